from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "leadloop.reports"
    label = "reports"
