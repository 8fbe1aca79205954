from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "leadloop.activities"
    label = "activities"
