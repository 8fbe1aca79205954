from django.urls import path

from leadloop.reports import views

urlpatterns = [
    path("", views.reports, name="reports"),
]
