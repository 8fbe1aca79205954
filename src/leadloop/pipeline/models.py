from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.contacts.models import Contact
from leadloop.core.models import Member, Workspace, settings_ref


class Category(models.TextChoices):
    NEW = "new", _("New")
    WORKING = "working", _("Working")
    QUALIFIED = "qualified", _("Qualified")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    INVALID = "invalid", _("Invalid")


CLOSING_CATEGORIES = (Category.WON, Category.LOST, Category.INVALID)
EXIT_CATEGORIES = (Category.LOST, Category.INVALID)


class Stage(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField(max_length=40)
    name_vi = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    category = models.CharField(max_length=10, choices=Category.choices)
    position = models.PositiveIntegerField()
    archived = models.BooleanField(default=False)
    outcomes = models.JSONField(default=list, blank=True, help_text="Call outcomes it suggests")
    pauses_sla = models.BooleanField(default=False)  # e.g. "call back later": no idle timer

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="stage_unique_key")
        ]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "vi").startswith("en") else self.name_vi

    @property
    def closes(self) -> bool:
        return self.category in CLOSING_CATEGORIES


class Lead(models.Model):
    """One care journey of a contact."""

    workspace = settings_ref(Workspace, models.CASCADE, related_name="leads")
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="leads", db_constraint=False
    )  # no constraint between captured rows: docs/decisions.md (2026-12-07)
    source = settings_ref(Source)
    campaign = settings_ref(Campaign)
    stage = settings_ref(Stage, models.PROTECT, related_name="leads")
    furthest_stage = settings_ref(Stage, related_name="+")
    owner = settings_ref(Member, related_name="leads")
    is_open = models.BooleanField(default=True)
    returning = models.BooleanField(default=False)
    is_test = models.BooleanField(default=False)  # a provider's test lead: left out of reports
    external_id = models.CharField(max_length=128, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    score = models.IntegerField(default=0)
    call_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_open=True), name="lead_one_open_per_contact"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "created_at"]),
            models.Index(fields=["workspace", "owner", "is_open"]),
            models.Index(fields=["workspace", "stage", "created_at"]),
            models.Index(fields=["workspace", "source"]),
            models.Index(fields=["workspace", "campaign"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact}"


class LeadEvent(models.Model):
    """The lead's timeline: creation, touches, assignments, stage changes, activities."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TOUCH = "touch", _("New submission")
        ASSIGNED = "assigned", _("Assigned")
        STAGE = "stage", _("Stage changed")
        ACTIVITY = "activity", _("Activity")
        MERGED = "merged", _("Merged")

    # The timeline is read by lead only: no index on the other keys (see settings_ref).
    workspace = settings_ref(Workspace, models.CASCADE)
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = settings_ref(Member, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    from_stage = settings_ref(Stage, related_name="+")
    to_stage = settings_ref(Stage, related_name="+")
    from_owner = settings_ref(Member, related_name="+")
    to_owner = settings_ref(Member, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["lead", "at"])]
        ordering = ["at", "id"]
