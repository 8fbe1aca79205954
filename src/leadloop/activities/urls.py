from django.urls import path

from leadloop.activities import views

urlpatterns = [
    path("<int:lead_id>/call/", views.lead_activity, {"kind": "call"}, name="lead-call"),
    path("<int:lead_id>/note/", views.lead_activity, {"kind": "note"}, name="lead-note"),
]
