from django.db import models

from leadloop.core.models import Workspace


class Source(models.Model):
    """Where leads come from (facebook, google, website, import …); created on first use."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="source_unique_key")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    budget = models.BigIntegerField(default=0, help_text="Planned spend, whole currency units")
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="campaign_unique_key")
        ]
        ordering = ["-created_at", "name"]

    def __str__(self) -> str:
        return self.name
