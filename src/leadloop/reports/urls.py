from django.urls import path

from leadloop.reports import views

urlpatterns = [
    path("", views.reports, name="reports"),
    path("quality/", views.quality_report, name="report-quality"),
    path("sla/", views.sla_report_page, name="report-sla"),
]
