from django.db import models
from django.utils.translation import gettext_lazy as _

from leadloop.core.models import Member, Workspace
from leadloop.pipeline.models import Lead


class Kind(models.TextChoices):
    CALL = "call", _("Call")
    NOTE = "note", _("Note")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    MEETING = "meeting", _("Meeting")
    TASK = "task", _("Task")


CONTACT_KINDS = (Kind.CALL, Kind.SMS, Kind.EMAIL)


class Outcome(models.TextChoices):
    """Call outcomes; the quick buttons on the lead page, each suggesting a stage."""

    BOUGHT = "bought", _("Buys")
    THINKING = "thinking", _("Thinking it over")
    CONSULTED = "consulted", _("Consulted, not closed")
    BUSY_CALLBACK = "busy_callback", _("Busy, call back")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number / bad data")
    REFUSED = "refused", _("Refused / no need")


class Activity(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    outcome = models.CharField(max_length=40, blank=True)
    duration_s = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["lead", "at"]), models.Index(fields=["workspace", "at"])]
        ordering = ["-at", "-id"]
