from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.contacts.models import Contact
from leadloop.core.models import Workspace
from leadloop.pipeline.models import Lead


class Channel(models.Model):
    """An inbound channel: an ad platform's webhook or a website form."""

    class Kind(models.TextChoices):
        FACEBOOK = "facebook", "Facebook"
        GOOGLE = "google", "Google Ads"
        TIKTOK = "tiktok", "TikTok"
        ZALO = "zalo", "Zalo OA"
        FORM = "form", _("Website form")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=32, unique=True)
    settings = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # /hooks/<workspace>/<provider> finds the channel by its kind
            models.UniqueConstraint(
                fields=["workspace", "kind"],
                condition=~Q(kind="form"),
                name="channel_one_per_provider",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Touch(models.Model):
    """One inbound submission with its raw payload, as it arrived."""

    class Kind(models.TextChoices):
        API = "api", "API"
        FORM = "form", _("Website form")
        IMPORT = "import", _("Import")
        WEBHOOK = "webhook", "Webhook"
        MANUAL = "manual", _("Entered by hand")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="touches")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=128, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True)
    utm = models.JSONField(default=dict, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    consent = models.JSONField(default=dict, blank=True)  # text, given, at, channel, page
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="touch_unique_external_id",
            )
        ]
        indexes = [models.Index(fields=["lead", "received_at"])]
        ordering = ["-received_at", "-id"]


class IdempotencyRecord(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="idempotency_unique_key")
        ]
        indexes = [models.Index(fields=["created_at"])]


class Delivery(models.Model):
    """One webhook request of an ad platform, stored as it arrived before it was answered."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Waiting")
        RETRYING = "retrying", _("Retrying")
        DONE = "done", _("Done")
        IGNORED = "ignored", _("No lead in it")
        FAILED = "failed", _("Failed")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    provider = models.CharField(max_length=10, choices=Channel.Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # one entry per lead in the delivery: {"ref", "outcome", "lead", "error"}
    outcomes = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "received_at"]),
            models.Index(fields=["status", "received_at"]),
        ]
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "deliveries"


class FacebookForm(models.Model):
    """A Facebook lead form seen on a channel, and up to when its leads were reconciled."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="facebook_forms")
    form_id = models.CharField(max_length=64)
    synced_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "form_id"], name="facebook_form_unique")
        ]
