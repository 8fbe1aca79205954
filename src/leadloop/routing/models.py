from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadloop.core.models import Member, Team, Workspace, settings_ref
from leadloop.pipeline.models import Lead, Stage


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    WEIGHTED = "weighted", _("Weighted round robin")
    LEAST_BUSY = "least_busy", _("Least busy (fewest open leads)")


# Why a lead went to its owner (LeadEvent.reason of an assignment), as shown to people.
ASSIGN_REASONS = {
    Strategy.ROUND_ROBIN: _("automatic, round robin"),
    Strategy.WEIGHTED: _("automatic, weighted round robin"),
    Strategy.LEAST_BUSY: _("automatic, least busy"),
    "returning": _("returning contact, back to their rep"),
    "idle": _("no activity in time"),
    "owner_inactive": _("the owner was deactivated"),
    "manual": _("by hand"),
}


class Rule(models.Model):
    """One assignment rule: when a new lead matches `conditions`, pick among its reps.

    `conditions` maps a lead attribute to the values that match (any of them):
    {"source": ["facebook"], "campaign": ["tet-2027"], "channel": [3], "language": ["vi"],
    "fields": {"province": ["Hà Nội"]}}; an empty dict matches every lead. The reps are the named
    members, else the team's sales members, else every sales member. The workspace's fallback rule
    (one, always last, never deleted) catches the leads no other rule matches.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    fallback = models.BooleanField(default=False)
    conditions = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    members = models.ManyToManyField(Member, blank=True, related_name="+")
    strategy = models.CharField(
        max_length=12, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    state = models.JSONField(default=dict, blank=True)  # the strategy's turn, kept between leads
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(fallback=True), name="rule_one_fallback"
            )
        ]
        ordering = ["fallback", "position", "id"]

    def __str__(self) -> str:
        return self.name


def default_cadence() -> list[str]:
    """Three attempts: at once, two (business) hours later, the next morning."""
    return ["2h", "next_morning"]


class Policy(models.Model):
    """The workspace's SLA policy: business hours, times to meet, and what happens when missed."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="sla_policy"
    )
    # {"0": [["08:00", "12:00"], ["13:30", "17:30"]], ...} by weekday (0 = Monday); empty: always
    business_hours = models.JSONField(default=dict, blank=True)
    holidays = models.JSONField(default=list, blank=True)  # ["2027-02-16", ...]
    return_to_owner = models.BooleanField(default=True)  # a returning contact's previous owner
    assign_minutes = models.PositiveIntegerField(default=5)  # business minutes to assign
    first_contact_minutes = models.PositiveIntegerField(default=15)  # business minutes
    # the delay before each attempt after a failed one: "2h", "30m", "next_morning"
    attempt_cadence = models.JSONField(default=default_cadence, blank=True)
    not_reached_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idle_hours = models.PositiveIntegerField(default=0)  # business hours; 0: never reassign
    journey_days = models.PositiveIntegerField(default=0)  # 0: journeys do not end by time
    journey_end_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Timer(models.Model):
    """A due time on a lead, fired once by a worker.

    Obligations (assign, first contact, attempt) are met when `done_at` is set; one fired while
    still open is a breach, and `done_at - due_at` says how late it was met. Actions (queue,
    idle, journey end) do something when they fire. Unfired timers are deleted when the lead
    closes or the obligation stops applying.
    """

    class Kind(models.TextChoices):
        QUEUE = "queue", _("Waiting for a rep")
        ASSIGN = "assign", _("Assignment")
        FIRST_CONTACT = "first_contact", _("First contact")
        ATTEMPT = "attempt", _("Call attempt")
        IDLE = "idle", _("Idle reassignment")
        JOURNEY = "journey", _("Journey end")

    OBLIGATIONS = (Kind.ASSIGN, Kind.FIRST_CONTACT, Kind.ATTEMPT)

    # db_index=False: the composite indexes below start with these columns
    workspace = settings_ref(Workspace, models.CASCADE)
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="timers", db_index=False, db_constraint=False
    )  # no constraint between captured rows: docs/decisions.md (2026-12-07)
    # who must meet the obligation (the owner when it was set)
    member = settings_ref(Member, related_name="timers")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    attempt = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(fired_at__isnull=True), name="timer_due_unfired"
            ),
            models.Index(fields=["lead", "kind"]),
            models.Index(fields=["workspace", "kind", "due_at"]),
            models.Index(fields=["member", "due_at"]),
        ]
        ordering = ["due_at", "id"]
