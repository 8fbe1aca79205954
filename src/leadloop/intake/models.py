from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.contacts.models import Contact
from leadloop.core.models import Workspace, settings_ref
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
    # the last delivery refused for its signature or key since the settings were saved (not
    # stored: anyone can send one), noted at most once a minute
    refused_at = models.DateTimeField(null=True, blank=True)

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

    # Touches are read by lead, by contact and by dedupe key (Meta); the others: settings_ref.
    workspace = settings_ref(Workspace, models.CASCADE)
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="touches", db_index=False, db_constraint=False
    )  # no constraint between captured rows: docs/decisions.md (2026-12-07)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="touches", db_constraint=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    channel = settings_ref(Channel)
    source = settings_ref(Source)
    campaign = settings_ref(Campaign)
    import_job = settings_ref("Import", related_name="touches")  # the file a row came from
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
        PROCESSING = "processing", _("Processing")  # claimed by a worker (since next_attempt_at)
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


class Import(models.Model):
    """A CSV or XLSX list being imported: where it came from, how to read it, its progress."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Waiting for the mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        "core.Member", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    origin = models.TextField(blank=True)  # where the list came from (data law), required to run
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=1000)  # under VAR_DIR/imports, or the CLI's file
    file_size = models.BigIntegerField()
    format = models.CharField(max_length=4)  # csv | xlsx
    encoding = models.CharField(max_length=12, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    sheet = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=list)  # one target per column (see intake.imports.TARGETS)
    source = models.CharField(max_length=100, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    language = models.CharField(max_length=8, blank=True)  # of the error report's reasons
    error = models.TextField(blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    assigned = models.JSONField(default=dict)  # member id -> new leads the import gave them
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(null=True, blank=True)  # the last chunk stored
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.rows_read * 100 // self.total_rows) if self.total_rows else 0


class ImportProblem(models.Model):
    """One line of an import's error report: a row not imported, the column, the reason."""

    job = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField()  # as the spreadsheet numbers it: the header is row 1
    column = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500)

    class Meta:
        indexes = [models.Index(fields=["job", "row"])]
        ordering = ["row", "id"]
