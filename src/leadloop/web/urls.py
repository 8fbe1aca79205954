from django.urls import path

from leadloop.web import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
