from django.urls import path

from leadloop.pipeline import views

urlpatterns = [
    path("", views.lead_index, name="lead-list"),
    path("new/", views.lead_new, name="lead-new"),
    path("export/", views.lead_export, name="lead-export"),
    path("<int:lead_id>/", views.lead_detail, name="lead-detail"),
    path("<int:lead_id>/stage/", views.lead_stage, name="lead-stage"),
    path("<int:lead_id>/assign/", views.lead_reassign, name="lead-assign"),
]
