from django.db import models

from leadloop.core.models import Member, Workspace
from leadloop.pipeline.models import Lead


class Notification(models.Model):
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=32)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE)
    message = models.CharField(max_length=300)
    count = models.PositiveIntegerField(default=1)  # the alerts a summary stands for
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)  # claimed by the e-mail task once

    class Meta:
        indexes = [models.Index(fields=["member", "read_at", "created_at"])]
        ordering = ["-created_at", "-id"]
