"""SLA obligations as the lead list, the SLA report and the lead page read them: one definition.

An obligation is a routing `Timer` of kind assign, first contact or attempt. It is *met* when done
by its due time, *breached* when done later or still open after it, and *pending* while it is
open and not due yet (pending obligations are not counted by the report). How late: `(done_at or
now) - due_at`.
"""

from datetime import datetime

from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from leadloop.core.ids import id_in
from leadloop.pipeline.models import Lead
from leadloop.routing.models import Timer

KINDS = tuple(kind.value for kind in Timer.OBLIGATIONS)
STATES = ("due", "met", "breached")  # what the report counts: due = met + breached


def met_q() -> Q:
    return Q(done_at__isnull=False, done_at__lte=F("due_at"))


def breached_q(now: datetime) -> Q:
    return Q(done_at__gt=F("due_at")) | Q(done_at__isnull=True, due_at__lt=now)


def _by_key(field: str, value: str) -> Q:
    """`value` is an id or "none" (no such record); anything else matches nothing."""
    if value == "none":
        return Q(**{f"{field}__isnull": True})
    if (pk := id_in(value)) is not None:
        return Q(**{f"{field}_id": pk})
    return Q(pk__in=[])


def obligation_q(
    *,
    workspace_id: int,
    now: datetime,
    state: str = "due",
    kind: str = "",
    member: str = "",
    team: str = "",
    due_from: datetime | None = None,
    due_before: datetime | None = None,
) -> Q:
    """The obligations (Timer rows) in `state` (due, met or breached), of `kind` (all when
    empty), of the accountable `member` and `team` (id or "none"), due in [due_from, due_before)."""
    if kind and kind not in KINDS:
        return Q(pk__in=[])
    q = Q(workspace_id=workspace_id, kind__in=[kind] if kind else KINDS)
    if state == "met":
        q &= met_q()
    elif state == "breached":
        q &= breached_q(now)
    elif state == "due":
        q &= Q(done_at__isnull=False) | Q(due_at__lt=now)
    else:
        return Q(pk__in=[])
    if member:
        q &= _by_key("member", member)
    if team:
        q &= _by_key("member__team", team)
    if due_from:
        q &= Q(due_at__gte=due_from)
    if due_before:
        q &= Q(due_at__lt=due_before)
    return q


class Seconds(Func):
    """A duration in seconds (float): PostgreSQL's interval epoch, SQLite's microseconds."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s / 1000000.0)", **extra)


def lateness(now: datetime) -> Seconds:
    """Seconds from the due time to when it was met, or to `now` when it is still open."""
    moment = Coalesce("done_at", Value(now, output_field=DateTimeField()))
    return Seconds(ExpressionWrapper(moment - F("due_at"), output_field=DurationField()))


def state_of(now: datetime) -> Case:
    return Case(
        When(met_q(), then=Value("met")),
        When(breached_q(now), then=Value("breached")),
        default=Value("pending"),
        output_field=CharField(),
    )


def with_state(timers: QuerySet[Timer], now: datetime) -> QuerySet[Timer]:
    """Each obligation with its `state` (met, breached, pending) and `late` (seconds, < 0 early)."""
    return timers.annotate(state=state_of(now), late=lateness(now))


def late_seconds(timer: Timer) -> int:
    """How late a breached obligation was (or is) in whole seconds; 0 when met or pending."""
    return max(0, round(timer.late or 0)) if timer.state == "breached" else 0


def lead_obligations(*, lead: Lead, now: datetime) -> QuerySet[Timer]:
    """Every SLA obligation of `lead` (whoever owed it), in due order, with state and lateness."""
    timers = Timer.objects.filter(lead=lead, kind__in=KINDS).select_related("member")
    return with_state(timers, now).order_by("due_at", "id")
