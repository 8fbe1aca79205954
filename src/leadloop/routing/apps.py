from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "leadloop.routing"
    label = "routing"
