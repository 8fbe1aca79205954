from django.db import models

from leadloop.core.models import Member, Workspace


class RoundRobinCursor(models.Model):
    """The last sales member who received a lead; locked while the next one is picked."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True)
    last_member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
