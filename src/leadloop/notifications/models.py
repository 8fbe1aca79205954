from django.db import models

from leadloop.core.models import Member, Workspace, settings_ref
from leadloop.pipeline.models import Lead


class Notification(models.Model):
    workspace = settings_ref(Workspace, models.CASCADE)
    member = settings_ref(Member, models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32)
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, db_constraint=False
    )  # no constraint between captured rows: docs/decisions.md (2026-12-07)
    message = models.CharField(max_length=300)
    count = models.PositiveIntegerField(default=1)  # the alerts a summary stands for
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)  # claimed by the e-mail task once

    class Meta:
        indexes = [models.Index(fields=["member", "read_at", "created_at"])]
        ordering = ["-created_at", "-id"]
