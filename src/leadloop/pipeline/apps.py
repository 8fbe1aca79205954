from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "leadloop.pipeline"
    label = "pipeline"
