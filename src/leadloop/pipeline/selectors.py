from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from leadloop.contacts.normalize import fold, normalize_phone
from leadloop.contacts.selectors import flagged
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import NotFound, ValidationFailed
from leadloop.core.ids import MAX_ID, id_in
from leadloop.core.models import Workspace
from leadloop.intake.models import Touch
from leadloop.pipeline.models import Lead, LeadEvent, Stage
from leadloop.pipeline.obligations import obligation_q
from leadloop.routing.models import Timer


@dataclass(frozen=True)
class LeadFilter:
    stage: str = ""
    owner: str = ""  # member id, "me" or "none"
    source: str = ""
    campaign: str = ""
    created_from: date | None = None
    created_to: date | None = None
    q: str = ""
    reached: str = ""  # leads that reached this stage or a later one (funnel drill-down)
    open: bool | None = None
    contacted: bool | None = None  # first contact made (the dashboard's "not contacted yet")
    test: bool | None = None  # providers' test leads; reports count only real ones (False)
    invalid: bool | None = None  # unreachable: neither a valid phone nor a valid e-mail
    duplicate: bool | None = None  # returning, or its contact is in an open duplicate pair
    imported: str = ""  # an import's id: the leads its rows opened or joined
    contact: str = ""  # a contact's id: its leads (from the possible-duplicates page)
    # leads with an SLA obligation (pipeline.obligations) that matches all the sla_* filters:
    sla: str = ""  # due (met or breached), met (on time) or breached
    sla_kind: str = ""  # assign, first_contact or attempt; empty: any
    sla_member: str = ""  # the accountable member's id, or "none"
    sla_team: str = ""  # the accountable member's team id, or "none"
    sla_from: date | None = None  # due on or after this day (workspace time zone)
    sla_to: date | None = None  # due on or before this day

    def __post_init__(self):
        days_check({name: getattr(self, name) for name in DAY_FIELDS})
        if wrong := self._errors():
            raise ValidationFailed(_("Some filters are not valid."), fields=wrong)

    def _errors(self) -> dict[str, list[str]]:
        wrong = {}
        for first, last in (("created_from", "created_to"), ("sla_from", "sla_to")):
            start, end = getattr(self, first), getattr(self, last)
            if start and end and end < start:
                wrong[last] = [_("The end date is before the start date.")]
        if self.owner and not _is_id_or(self.owner, "me", "none"):
            wrong["owner"] = [_("A member's id, me or none.")]
        if self.imported and not id_in(self.imported):
            wrong["imported"] = [_("An import's id.")]
        if self.contact and not id_in(self.contact):
            wrong["contact"] = [_("A contact's id.")]
        for name in ("sla_member", "sla_team"):
            if getattr(self, name) and not _is_id_or(getattr(self, name), "none"):
                wrong[name] = [_("An id or none.")]
        return wrong

    @property
    def has_sla(self) -> bool:
        return any(getattr(self, name) for name in SLA_FIELDS)

    def without_sla(self) -> "LeadFilter":
        return replace(
            self, sla="", sla_kind="", sla_member="", sla_team="", sla_from=None, sla_to=None
        )

    def page_url(self) -> str:
        """The lead list page showing exactly these leads (a report number's drill-down)."""
        return f"{reverse('lead-list')}?{urlencode(self.as_query())}"

    def as_query(self) -> dict:
        """The non-empty filters as query parameters (for `page_url` and pagination links)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in ("", None):
                out[f.name] = str(value).lower() if isinstance(value, bool) else str(value)
        return out


SLA_FIELDS = ("sla", "sla_kind", "sla_member", "sla_team", "sla_from", "sla_to")
DAY_FIELDS = ("created_from", "created_to", "sla_from", "sla_to")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def days_check(days: dict[str, date | None]) -> None:
    """Refuse days outside FIRST_DAY..LAST_DAY (by name): days that a datetime holds in any time
    zone, a day later included (a range's end), and that a lead could have."""
    wrong = {
        name: [_("From %(first)s to %(last)s.") % {"first": FIRST_DAY, "last": LAST_DAY}]
        for name, day in days.items()
        if day is not None and not FIRST_DAY <= day <= LAST_DAY
    }
    if wrong:
        raise ValidationFailed(_("A date is out of range."), fields=wrong)


NONE = "-"  # the `source` / `campaign` filter value for leads without one (never a key)


def invalid_q() -> Q:
    """An invalid lead: its contact has neither a valid phone nor a valid e-mail."""
    return Q(contact__phone_valid=False, contact__email_valid=False)


def duplicate_q() -> Q:
    """A duplicate lead: its contact was known before it (a returning lead), or the contact is in
    an open possible-duplicate pair (the queue)."""
    return Q(returning=True) | flagged("contact_id")


def day_start(workspace: Workspace, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(workspace.time_zone))


def sla_q(workspace: Workspace, flt: LeadFilter, now: datetime) -> Q:
    """The obligations (Timer rows) that `flt`'s sla_* filters select; the SLA report counts
    these and the lead list shows their leads."""
    return obligation_q(
        workspace_id=workspace.pk,
        now=now,
        state=flt.sla or "due",
        kind=flt.sla_kind,
        member=flt.sla_member,
        team=flt.sla_team,
        due_from=day_start(workspace, flt.sla_from) if flt.sla_from else None,
        due_before=day_start(workspace, flt.sla_to + timedelta(days=1)) if flt.sla_to else None,
    )


def stage_list(*, workspace: Workspace, fetched_by: Actor, archived: bool = False):
    stages = Stage.objects.filter(workspace=workspace)
    return stages if archived else stages.filter(archived=False)


def _visible(workspace: Workspace, fetched_by: Actor) -> QuerySet[Lead]:
    leads = Lead.objects.filter(workspace=workspace)
    if not fetched_by.sees_all_leads:
        leads = leads.filter(owner_id=fetched_by.member_id) if fetched_by.member else leads.none()
    return leads


def _is_id_or(value: str, *words: str) -> bool:
    """An id (digits that fit a 64-bit key) or one of `words`."""
    return value in words or id_in(value) is not None


def _by_owner(leads: QuerySet[Lead], owner: str, fetched_by: Actor) -> QuerySet[Lead]:
    if owner == "me":
        return leads.filter(owner_id=fetched_by.member_id) if fetched_by.member else leads.none()
    if owner == "none":
        return leads.filter(owner__isnull=True)
    return leads.filter(owner_id=int(owner))


def _search(leads: QuerySet[Lead], q: str) -> QuerySet[Lead]:
    terms = fold(q).split()
    compact = "".join(ch for ch in q if ch not in " .-()+")
    if len(compact) >= 3 and compact.isdigit():  # a phone number, in any written form
        phone = normalize_phone(q)  # a full number is matched as stored (0162… → 032…)
        digits = phone.national if phone.valid else compact
        return leads.filter(contact__search_key__contains=digits.lstrip("0")[-9:] or compact)
    for term in terms[:8]:
        leads = leads.filter(contact__search_key__contains=term)
    return leads


def lead_filter(leads: QuerySet[Lead], workspace: Workspace, flt: LeadFilter, fetched_by: Actor):
    if flt.stage:
        leads = leads.filter(stage__key=flt.stage)
    if flt.owner:
        leads = _by_owner(leads, flt.owner, fetched_by)
    if flt.source:
        by_source = {"source__isnull": True} if flt.source == NONE else {"source__key": flt.source}
        leads = leads.filter(**by_source)
    if flt.campaign:
        none = flt.campaign == NONE
        leads = leads.filter(
            **({"campaign__isnull": True} if none else {"campaign__key": flt.campaign})
        )
    if flt.created_from:
        leads = leads.filter(created_at__gte=day_start(workspace, flt.created_from))
    if flt.created_to:
        leads = leads.filter(
            created_at__lt=day_start(workspace, flt.created_to + timedelta(days=1))
        )
    if flt.q.strip():
        leads = _search(leads, flt.q)
    if flt.reached:
        reached = Stage.objects.filter(workspace=workspace, key=flt.reached).first()
        leads = (
            leads.filter(furthest_stage__position__gte=reached.position)
            if reached
            else leads.none()
        )
    if flt.open is not None:
        leads = leads.filter(is_open=flt.open)
    if flt.contacted is not None:
        leads = leads.filter(first_contact_at__isnull=not flt.contacted)
    if flt.test is not None:
        leads = leads.filter(is_test=flt.test)
    for wanted, condition in ((flt.invalid, invalid_q), (flt.duplicate, duplicate_q)):
        if wanted is not None:
            leads = leads.filter(condition()) if wanted else leads.exclude(condition())
    if flt.contact:
        leads = leads.filter(contact_id=int(flt.contact))
    if flt.imported:
        leads = leads.filter(
            Exists(Touch.objects.filter(lead_id=OuterRef("pk"), import_job_id=int(flt.imported)))
        )
    if flt.has_sla:  # the obligations read once, not once per lead (SQLite would scan them)
        owed = Timer.objects.filter(sla_q(workspace, flt, clock.now())).values("lead_id")
        leads = leads.filter(pk__in=owed)
    return leads


def lead_list(
    *, workspace: Workspace, fetched_by: Actor, filters: LeadFilter | None = None
) -> QuerySet[Lead]:
    leads = lead_filter(
        _visible(workspace, fetched_by), workspace, filters or LeadFilter(), fetched_by
    )
    related = ("workspace", "contact", "stage", "owner", "source", "campaign")  # no N+1
    return leads.select_related(*related).order_by("-created_at", "-id")


def lead_get(*, workspace: Workspace, fetched_by: Actor, lead_id: int) -> Lead:
    lead = lead_list(workspace=workspace, fetched_by=fetched_by).filter(id=lead_id).first()
    if lead is None:
        raise NotFound(_("Lead not found."))
    return lead


def lead_was_owned_by(*, workspace: Workspace, member_id: int, lead_id: int) -> bool:
    """Whether the lead was ever assigned to the member: a rep who had it knows it exists."""
    if lead_id > MAX_ID:  # no such id: it would overflow the database's integers
        return False
    return LeadEvent.objects.filter(
        workspace=workspace, lead_id=lead_id, kind=LeadEvent.Kind.ASSIGNED, to_owner_id=member_id
    ).exists()


def lead_timeline(*, lead: Lead) -> QuerySet[LeadEvent]:
    return lead.events.select_related(
        "actor", "from_stage", "to_stage", "from_owner", "to_owner"
    ).order_by("-at", "-id")


def stage_history(*, lead: Lead) -> QuerySet[LeadEvent]:
    return lead_timeline(lead=lead).filter(kind=LeadEvent.Kind.STAGE).order_by("at", "id")
