import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DataError, IntegrityError, OperationalError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.campaigns.services import campaign_for, key_of, source_for
from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.contacts.normalize import normalize_phone
from leadloop.contacts.services import Identity, contact_resolve
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import Conflict, ValidationFailed
from leadloop.core.models import Workspace
from leadloop.core.selectors import sales_members
from leadloop.core.services import audit_record
from leadloop.intake.models import Channel, IdempotencyRecord, Touch
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import entry_stage, event_record
from leadloop.routing.models import RoundRobinCursor
from leadloop.routing.services import lead_assign_round_robin

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
IDEMPOTENCY_TTL = timedelta(hours=24)
CHANNEL_SETTINGS = {
    "facebook": {"verify_token", "app_secret", "page_access_token"},
    "google": {"google_key"},
    "tiktok": {"app_secret"},
    "zalo": {"app_id", "oa_secret_key"},
    "form": {"allowed_origins", "redirect_url", "consent_text"},
}


@dataclass(frozen=True)
class Submission:
    full_name: str = ""
    phone: str = ""
    email: str = ""
    source: str = ""
    campaign: str = ""
    external_id: str = ""
    note: str = ""
    fields: dict = field(default_factory=dict)
    utm: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Captured:
    lead: Lead
    created: bool
    returning: bool
    quality: dict

    @property
    def duplicate_of(self) -> int | None:
        return None if self.created else self.lead.pk


def _join_or_open(workspace: Workspace, contact: Contact, sub: Submission, source, campaign):
    """The contact's open lead (joined) or a new one; returns (lead, created, returning)."""
    lead = Lead.objects.select_for_update().filter(contact=contact, is_open=True).first()
    if lead:
        return lead, False, lead.returning
    returning = Lead.objects.filter(contact=contact).exists()
    stage = entry_stage(workspace)
    try:
        with transaction.atomic():
            lead = Lead.objects.create(
                workspace=workspace,
                contact=contact,
                source=source,
                campaign=campaign,
                stage=stage,
                furthest_stage=stage,
                returning=returning,
                external_id=sub.external_id,
                fields=sub.fields,
                note=sub.note,
                created_at=clock.now(),
                **{k: sub.utm.get(k, "") for k in UTM_FIELDS},
            )
    except IntegrityError:  # a concurrent submission opened it first: join that one
        return Lead.objects.select_for_update().get(contact=contact, is_open=True), False, False
    return lead, True, returning


def _seen_before(workspace: Workspace, dedupe_key: str) -> Lead | None:
    if not dedupe_key:
        return None
    # `~Q(dedupe_key="")` repeats the partial unique index's condition: SQLite cannot infer it
    # from `dedupe_key = ?` and would otherwise scan all of the workspace's touches.
    touch = Touch.objects.filter(~Q(dedupe_key=""), workspace=workspace, dedupe_key=dedupe_key)
    touch = touch.select_related("lead__stage", "lead__owner").first()
    return touch.lead if touch else None


@transaction.atomic
def _capture(workspace, actor, sub, kind, channel, raw, who) -> Captured:
    source = source_for(workspace=workspace, name=sub.source)
    dedupe_key = f"{source.key if source else ''}:{sub.external_id}" if sub.external_id else ""
    if seen := _seen_before(workspace, dedupe_key):
        return Captured(seen, created=False, returning=seen.returning, quality=who.quality())
    campaign = campaign_for(workspace=workspace, name=sub.campaign, source=source)
    contact, _created = contact_resolve(workspace=workspace, who=who)
    lead, created, returning = _join_or_open(workspace, contact, sub, source, campaign)
    Touch.objects.create(
        workspace=workspace,
        lead=lead,
        contact=contact,
        kind=kind,
        channel=channel,
        source=source,
        campaign=campaign,
        external_id=sub.external_id,
        dedupe_key=dedupe_key,
        utm={k: v for k, v in sub.utm.items() if v},
        fields=sub.fields,
        raw=raw,
        received_at=clock.now(),
    )
    if created:
        event_record(lead=lead, actor=actor, kind=LeadEvent.Kind.CREATED, data={"via": kind})
        lead_assign_round_robin(lead=lead, actor=actor)
    else:
        event_record(
            lead=lead,
            actor=actor,
            kind=LeadEvent.Kind.TOUCH,
            data={"via": kind, "source": source.key if source else ""},
        )
    return Captured(lead, created=created, returning=returning, quality=who.quality())


def lead_capture(
    *,
    workspace: Workspace,
    actor: Actor,
    submission: Submission,
    kind: str = Touch.Kind.API,
    channel: Channel | None = None,
    raw: dict | None = None,
) -> Captured:
    """Clean, de-duplicate and store one submission; open a lead or join the open one."""
    actor.require(actor.captures_leads)
    who = Identity.clean(name=submission.full_name, phone=submission.phone, email=submission.email)
    if not who.has_channel:
        message = _("Give a phone number or an e-mail address.")
        raise ValidationFailed(message, fields={"phone": [message], "email": [message]})
    for attempt in range(2):
        try:
            return _capture(workspace, actor, submission, kind, channel, raw or {}, who)
        except IntegrityError:  # the same external id arrived twice at once: the retry joins it
            if attempt:
                raise
    raise AssertionError("unreachable")


class _KeyTaken(Exception):
    pass


def _request_hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _replay(workspace: Workspace, key: str, digest: str) -> tuple[int, dict] | None:
    since = clock.now() - IDEMPOTENCY_TTL
    record = IdempotencyRecord.objects.filter(
        workspace=workspace, key=key, created_at__gte=since
    ).first()
    if record is None:
        return None
    if record.request_hash != digest:
        raise Conflict(
            _("This Idempotency-Key was used with another request body."),
            code="idempotency_key_reused",
        )
    return record.status, record.body


def idempotent(
    *, workspace: Workspace, key: str, payload, produce: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run `produce` once per key: a retry with the same payload replays the first answer."""
    if not key:
        return produce()
    if len(key) > 255:
        raise ValidationFailed(
            _("Idempotency-Key is longer than 255 characters."),
            fields={"Idempotency-Key": [_("At most 255 characters.")]},
        )
    digest = _request_hash(payload)
    if stored := _replay(workspace, key, digest):
        return stored
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.filter(
                workspace=workspace, key=key, created_at__lt=clock.now() - IDEMPOTENCY_TTL
            ).delete()
            status, body = produce()
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        workspace=workspace,
                        key=key,
                        request_hash=digest,
                        status=status,
                        body=body,
                        created_at=clock.now(),
                    )
            except IntegrityError:
                raise _KeyTaken from None
    except _KeyTaken:  # a concurrent request with the same key won: answer as it did
        return _replay(workspace, key, digest) or produce()
    return status, body


def idempotency_purge() -> int:
    expired = IdempotencyRecord.objects.filter(created_at__lt=clock.now() - IDEMPOTENCY_TTL)
    return expired.delete()[0]


@transaction.atomic
def channel_create(
    *, workspace: Workspace, actor: Actor, kind: str, name: str, settings: dict
) -> Channel:
    actor.require(actor.role in ("admin", "marketer"))
    errors = {}
    if kind not in Channel.Kind.values:
        errors["kind"] = [_("Unknown channel kind.")]
    elif unknown := set(settings) - CHANNEL_SETTINGS[kind]:
        errors["settings"] = [_("Unknown settings: %s") % ", ".join(sorted(unknown))]
    if not name.strip() or len(name) > 100:
        errors["name"] = [_("Between 1 and 100 characters.")]
    if errors:
        raise ValidationFailed(_("The channel is not valid."), fields=errors)
    channel = Channel.objects.create(
        workspace=workspace,
        kind=kind,
        name=name.strip(),
        key=secrets.token_urlsafe(12),
        settings=settings,
        created_at=clock.now(),
    )
    audit_record(actor=actor, action="channel.create", obj=channel, data={"kind": kind})
    return channel


def channel_inbound_path(channel: Channel) -> str:
    base = f"/hooks/{channel.workspace.slug}"
    return (
        f"{base}/forms/{channel.key}"
        if channel.kind == Channel.Kind.FORM
        else f"{base}/{channel.kind}"
    )


# ------------------------------------------------------------------ bulk capture

BULK_IN_CHUNK = 500  # ids per `IN (...)` lookup
BULK_ATTEMPTS = 3  # plans of a batch before it falls back to one capture after another


class _Replan(Exception):
    """The database moved under the batch's plan (a concurrent write): capture one by one."""


def _chunks(values, size: int = BULK_IN_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Batch:
    """`lead_capture` for each submission in turn, played in memory, then written set-wise.

    The outcome is the one of calling `lead_capture` on the submissions in order: the same
    de-duplication (seen external id, then phone, then e-mail, gap filling, phone/e-mail split
    flags), the open lead joined or a (returning) lead opened, one touch per submission, the
    round robin in order, the same timeline events and notifications. Only the writes are
    grouped: a few dozen queries per thousand submissions instead of ~25 per submission.
    Whatever the plan cannot be sure of (a concurrent write, a value the database refuses)
    rolls the batch back and the caller captures one by one.
    """

    def __init__(self, workspace: Workspace, actor: Actor, kind: str, channel: Channel | None):
        self.workspace, self.actor, self.kind, self.channel = workspace, actor, kind, channel
        self.sources: dict[str, Source | None] = {}
        self.campaigns: dict[str, Campaign | None] = {}
        self.seen: dict[str, Lead] = {}  # dedupe key -> lead
        self.by_phone: dict[str, Contact] = {}  # valid E.164 -> contact
        self.by_email: dict[str, Contact] = {}  # valid e-mail -> contact
        self.open: dict[int, Lead] = {}  # id(contact) -> its open lead
        self.has_lead: set[int] = set()  # id(contact) of contacts with any lead
        self.loaded: dict[int, Contact] = {}  # pk -> contact read from the database
        self.planned_open: dict[int, int] = {}  # contact pk -> open lead pk, as read
        self.planned_any: set[int] = set()  # contact pks with a lead, as read
        self.stage = None
        self.new_contacts: list[Contact] = []
        self.filled: dict[int, tuple[Contact, set]] = {}  # read contacts whose gaps were filled
        self.pairs: dict[tuple[int, int], tuple[Contact, Contact, object]] = {}
        self.new_leads: list[tuple[Lead, object]] = []  # with the moment each was opened
        self.touches: list[Touch] = []
        self.events: list[LeadEvent] = []

    # ---- reading what the batch touches

    def preload(self, items: list[tuple[Submission, dict, Identity]]) -> None:
        ws = self.workspace
        source_keys = {key_of(sub.source or "", 64) for sub, _raw, _who in items} - {""}
        for source in Source.objects.filter(workspace=ws, key__in=source_keys):
            self.sources[source.key] = source
        campaign_keys = {key_of(sub.campaign or "", 100) for sub, _raw, _who in items} - {""}
        for campaign in Campaign.objects.filter(workspace=ws, key__in=campaign_keys):
            self.campaigns[campaign.key] = campaign
        dedupe_keys = {
            f"{key_of(sub.source or '', 64)}:{sub.external_id}"
            for sub, _raw, _who in items
            if sub.external_id
        }
        for chunk in _chunks(dedupe_keys):
            touches = Touch.objects.filter(~Q(dedupe_key=""), workspace=ws, dedupe_key__in=chunk)
            for touch in touches.select_related("lead__stage", "lead__owner"):
                touch.lead.workspace = ws
                self.seen[touch.dedupe_key] = touch.lead
        phones = {who.phone.e164 for _s, _r, who in items if who.phone.valid}
        emails = {who.email for _s, _r, who in items if who.email_valid}
        for chunk in _chunks(phones):
            for contact in Contact.objects.filter(
                workspace=ws, phone_valid=True, phone_e164__in=chunk
            ):
                self.loaded.setdefault(contact.pk, contact)
        for chunk in _chunks(emails):
            for contact in Contact.objects.filter(workspace=ws, email_valid=True, email__in=chunk):
                self.loaded.setdefault(contact.pk, contact)
        for contact in self.loaded.values():
            self._index(contact)
        for chunk in _chunks(self.loaded):
            leads = Lead.objects.filter(contact_id__in=chunk).select_related("stage", "owner")
            for lead in leads.order_by("id"):
                contact = self.loaded[lead.contact_id]
                lead.workspace, lead.contact = ws, contact
                self.has_lead.add(id(contact))
                self.planned_any.add(contact.pk)
                if lead.is_open:
                    self.open[id(contact)] = lead
                    self.planned_open[contact.pk] = lead.pk

    def _index(self, contact: Contact) -> None:
        if contact.phone_valid and contact.phone_e164:
            self.by_phone.setdefault(contact.phone_e164, contact)
        if contact.email_valid and contact.email:
            self.by_email.setdefault(contact.email, contact)

    # ---- playing each submission (mirrors _capture, contact_resolve and _join_or_open)

    def _source(self, name: str) -> Source | None:
        key = key_of(name or "", 64)
        if not key:
            return None
        if key not in self.sources:
            self.sources[key] = source_for(workspace=self.workspace, name=name)
        return self.sources[key]

    def _campaign(self, name: str, source: Source | None) -> Campaign | None:
        key = key_of(name or "", 100)
        if not key:
            return None
        if key not in self.campaigns:
            self.campaigns[key] = campaign_for(workspace=self.workspace, name=name, source=source)
        return self.campaigns[key]

    def _fill_gaps(self, contact: Contact, who: Identity, email_taken: bool) -> None:
        """As contacts.services._fill_gaps, written at the end."""
        changed = []
        if not contact.full_name and who.name:
            contact.full_name = who.name
            changed.append("full_name")
        if not contact.email and who.email and not email_taken:
            contact.email, contact.email_valid = who.email, who.email_valid
            changed += ["email", "email_valid"]
        if not contact.phone_raw and who.phone.raw:
            contact.phone_raw, contact.phone_e164 = who.phone.raw[:64], who.phone.e164
            contact.phone_valid = who.phone.valid
            changed += ["phone_raw", "phone_e164", "phone_valid"]
        if not changed:
            return
        contact.search_key = Identity(
            contact.full_name,
            normalize_phone(contact.phone_raw),
            contact.email,
            contact.email_valid,
        ).search_key()
        self._index(contact)
        if contact.pk:
            fields = self.filled.get(contact.pk, (contact, set()))[1]
            self.filled[contact.pk] = (contact, fields | {*changed, "search_key"})

    def _contact(self, who: Identity, now) -> Contact:
        by_phone = self.by_phone.get(who.phone.e164) if who.phone.valid else None
        by_email = self.by_email.get(who.email) if who.email_valid else None
        if by_phone and by_email and by_phone is not by_email:
            self.pairs.setdefault((id(by_phone), id(by_email)), (by_phone, by_email, now))
        found = by_phone or by_email
        if found:
            self._fill_gaps(found, who, email_taken=by_email is not None and by_email is not found)
            return found
        contact = Contact(
            workspace=self.workspace,
            full_name=who.name[:200],
            phone_raw=who.phone.raw[:64],
            phone_e164=who.phone.e164,
            phone_valid=who.phone.valid,
            email=who.email[:254],
            email_valid=who.email_valid,
            search_key=who.search_key(),
            created_at=now,
        )
        self.new_contacts.append(contact)
        self._index(contact)
        return contact

    def _event(self, lead: Lead, kind: str, now, **fields) -> LeadEvent:
        return LeadEvent(
            workspace=self.workspace,
            lead=lead,
            kind=kind,
            actor=self.actor.member,
            actor_label=self.actor.label,
            at=now,
            **fields,
        )

    def capture(self, sub: Submission, raw: dict, who: Identity) -> Captured:
        now = clock.now()
        source = self._source(sub.source)
        dedupe_key = f"{source.key if source else ''}:{sub.external_id}" if sub.external_id else ""
        if dedupe_key and (seen := self.seen.get(dedupe_key)):
            return Captured(seen, created=False, returning=seen.returning, quality=who.quality())
        campaign = self._campaign(sub.campaign, source)
        contact = self._contact(who, now)
        lead = self.open.get(id(contact))
        created = lead is None
        if created:
            if self.stage is None:
                self.stage = entry_stage(self.workspace)
            returning = id(contact) in self.has_lead
            lead = Lead(
                workspace=self.workspace,
                contact=contact,
                source=source,
                campaign=campaign,
                stage=self.stage,
                furthest_stage=self.stage,
                returning=returning,
                external_id=sub.external_id,
                fields=sub.fields,
                note=sub.note,
                created_at=now,
                **{k: sub.utm.get(k, "") for k in UTM_FIELDS},
            )
            self.open[id(contact)] = lead
            self.has_lead.add(id(contact))
            self.new_leads.append((lead, now))
        else:
            returning = lead.returning
        self.touches.append(
            Touch(
                workspace=self.workspace,
                lead=lead,
                contact=contact,
                kind=self.kind,
                channel=self.channel,
                source=source,
                campaign=campaign,
                external_id=sub.external_id,
                dedupe_key=dedupe_key,
                utm={k: v for k, v in sub.utm.items() if v},
                fields=sub.fields,
                raw=raw,
                received_at=now,
            )
        )
        if created:
            self.events.append(
                self._event(lead, LeadEvent.Kind.CREATED, now, data={"via": self.kind})
            )
        else:
            self.events.append(
                self._event(
                    lead,
                    LeadEvent.Kind.TOUCH,
                    now,
                    data={"via": self.kind, "source": source.key if source else ""},
                )
            )
        if dedupe_key:
            self.seen[dedupe_key] = lead
        return Captured(lead, created=created, returning=returning, quality=who.quality())

    # ---- writing

    def write(self) -> None:
        Contact.objects.bulk_create(self.new_contacts)
        for contact, fields in self.filled.values():
            contact.save(update_fields=sorted(fields))
        PossibleDuplicate.objects.bulk_create(
            [
                PossibleDuplicate(
                    workspace=self.workspace,
                    contact=a,
                    other=b,
                    reason="phone_email_split",
                    created_at=at,
                )
                for a, b, at in self.pairs.values()
            ],
            ignore_conflicts=True,
        )
        self._check_plan()
        Lead.objects.bulk_create([lead for lead, _now in self.new_leads])
        Touch.objects.bulk_create(self.touches)
        LeadEvent.objects.bulk_create(self.events)
        self._assign_round_robin()

    def _check_plan(self) -> None:
        """Lock the open leads it joins (as _join_or_open does) and check nothing moved."""
        locked, any_lead = {}, set()
        for chunk in _chunks(self.loaded):
            locked |= dict(
                Lead.objects.select_for_update()
                .filter(contact_id__in=chunk, is_open=True)
                .values_list("contact_id", "id")
            )
            any_lead |= set(
                Lead.objects.filter(contact_id__in=chunk).values_list("contact_id", flat=True)
            )
        if locked != self.planned_open or any_lead != self.planned_any:
            raise _Replan

    def _assign_round_robin(self) -> None:
        """As lead_assign_round_robin for each new lead in order, under one cursor lock."""
        if not self.new_leads:
            return
        cursor, _created = RoundRobinCursor.objects.get_or_create(workspace=self.workspace)
        cursor = RoundRobinCursor.objects.select_for_update().get(pk=cursor.pk)
        members = list(sales_members(workspace=self.workspace).order_by("id"))
        if not members:
            return
        last, by_owner, events, notes = cursor.last_member_id or 0, {}, [], []
        for lead, now in self.new_leads:
            owner = next((m for m in members if m.id > last), members[0])
            last = owner.id
            lead.owner, lead.assigned_at = owner, now
            by_owner.setdefault(owner.id, []).append(lead.pk)
            events.append(
                self._event(
                    lead,
                    LeadEvent.Kind.ASSIGNED,
                    now,
                    from_owner=None,
                    to_owner=owner,
                    reason="round_robin",
                )
            )
            message = _("New lead for you: %(name)s") % {"name": lead.contact.full_name or lead.pk}
            notes.append(
                Notification(
                    workspace_id=owner.workspace_id,
                    member=owner,
                    kind="lead_assigned",
                    lead=lead,
                    message=message[:300],
                    created_at=now,
                )
            )
        cursor.last_member_id = last
        cursor.save(update_fields=["last_member"])
        for owner_id, ids in by_owner.items():  # assigned when opened: assigned_at = created_at
            for chunk in _chunks(ids):
                Lead.objects.filter(pk__in=chunk).update(
                    owner_id=owner_id, assigned_at=F("created_at")
                )
        LeadEvent.objects.bulk_create(events)
        Notification.objects.bulk_create(notes)


def _capture_alone(workspace, actor, sub: Submission, kind, channel, raw):
    try:
        return lead_capture(
            workspace=workspace, actor=actor, submission=sub, kind=kind, channel=channel, raw=raw
        )
    except (ValidationFailed, DataError) as exc:
        return exc


def leads_capture_bulk(
    *,
    workspace: Workspace,
    actor: Actor,
    submissions: list[tuple[Submission, dict]],
    kind: str = Touch.Kind.API,
    channel: Channel | None = None,
) -> list[Captured | ValidationFailed | DataError]:
    """Capture (submission, raw payload) pairs as `lead_capture` would, one after the other.

    One result per submission, in order: its Captured, or the error it alone met
    (ValidationFailed without phone and e-mail; DataError for a value the database refuses).
    The batch is played in memory and written with set-based queries in one transaction; if
    anything is uncertain it is rolled back and the submissions are captured one by one.
    """
    actor.require(actor.captures_leads)
    results: list = [None] * len(submissions)
    items, positions = [], []
    for index, (sub, raw) in enumerate(submissions):
        who = Identity.clean(name=sub.full_name, phone=sub.phone, email=sub.email)
        if who.has_channel:
            items.append((sub, raw or {}, who))
            positions.append(index)
        else:
            message = _("Give a phone number or an e-mail address.")
            results[index] = ValidationFailed(
                message, fields={"phone": [message], "email": [message]}
            )
    if not items:
        return results
    captured = None
    for _attempt in range(BULK_ATTEMPTS):
        try:
            with transaction.atomic():
                batch = _Batch(workspace, actor, kind, channel)
                batch.preload(items)
                planned = [batch.capture(sub, raw, who) for sub, raw, who in items]
                batch.write()
        except (_Replan, IntegrityError, OperationalError):
            continue  # a concurrent batch or capture got there first: plan again
        except (DataError, ValidationFailed):
            break  # a value the database refuses, or no entry stage: each item answers alone
        captured = planned
        break
    if captured is None:
        captured = [
            _capture_alone(workspace, actor, sub, kind, channel, raw) for sub, raw, _who in items
        ]
    for index, outcome in zip(positions, captured, strict=True):
        results[index] = outcome
    return results
