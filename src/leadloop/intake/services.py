import hashlib
import json
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.utils.translation import gettext as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.campaigns.services import campaign_for, key_of, source_for
from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.contacts.services import (
    Identity,
    contact_fill_gaps,
    contact_new,
    contacts_found,
    contacts_matching,
    contacts_with,
)
from leadloop.contacts.tasks import duplicates_check_soon
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.bulk import Ready, instance, related, rows_ahead, rows_insert
from leadloop.core.errors import ApplicationError, Conflict, ValidationFailed
from leadloop.core.joined import (
    NOTHING,
    Pending,
    any_of,
    fetch_joined,
    fetch_joined_later,
    for_update,
    listed,
    sent_together,
)
from leadloop.core.models import Member, Role, Workspace
from leadloop.core.services import audit_record
from leadloop.intake.grouping import GroupCommit
from leadloop.intake.models import Channel, IdempotencyRecord, Import, Touch
from leadloop.intake.statistics import statistics_keep_up
from leadloop.intake.turns import Turn, Written
from leadloop.notifications.services import notifications_publish
from leadloop.pipeline.models import Lead, LeadEvent, Stage
from leadloop.pipeline.services import entry_stage, entry_stage_of, event_new
from leadloop.routing.engine import Router
from leadloop.routing.models import Timer
from leadloop.routing.services import lead_claim
from leadloop.routing.sla import assigned_note, assignment_new, timers_for_new

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
IDEMPOTENCY_TTL = timedelta(hours=24)
SECRETS = {"verify_token", "app_secret", "page_access_token", "google_key", "oa_secret_key"}
CHANNEL_SETTINGS = {
    "facebook": {"verify_token", "app_secret", "page_access_token"},
    "google": {"google_key"},
    "tiktok": {"app_secret"},
    "zalo": {"app_id", "oa_secret_key"},
    "form": {"allowed_origins", "redirect_url", "consent_text", "rate_limit"},
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
    is_test: bool = False  # a provider's test lead (Google's is_test)
    consent: dict = field(default_factory=dict)  # what the person agreed to, as shown to them
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


ATTEMPTS = 3  # plays of one submission that met a concurrent write
SETTLED_FROM = 20  # submissions from which a batch leaves out what concurrent writes outdate


class _Replan(Exception):
    """The database moved under the plan (a concurrent write): play it again."""


RETRYABLE = (_Replan, IntegrityError, OperationalError)


_TURN: ContextVar[Turn | None] = ContextVar("capture_turn", default=None)


def _wait_turn() -> None:
    if (turn := _TURN.get()) is not None:
        turn.wait()


def _no_channel() -> ValidationFailed:
    message = _("Give a phone number or an e-mail address.")
    return ValidationFailed(message, fields={"phone": [message], "email": [message]})


@dataclass(frozen=True)
class _Origin:
    """Who captures, how the submissions came (a touch's kind and channel) and, for an import's
    rows, its file."""

    workspace: Workspace
    actor: Actor
    kind: str
    channel: Channel | None = None
    import_job: Import | None = None


class _Batch:
    """Submissions played one after another in memory, then written with set-wise queries.

    The outcome is that of capturing them one by one: an external id seen before, then the
    phone, then the e-mail decide the contact (gaps filled, phone/e-mail splits flagged); its
    open lead is joined or a (returning) lead opened; one touch per submission; the round robin
    in order; the same timeline rows and notifications. A few dozen queries per thousand
    submissions instead of twenty per submission.
    """

    def __init__(self, origin: _Origin):
        self.workspace, self.actor = origin.workspace, origin.actor
        self.kind, self.channel, self.import_job = origin.kind, origin.channel, origin.import_job
        # the sales rep who enters the leads by hand (on the phone with the person, say): the
        # new leads are theirs, not the rules'
        by_hand = self.kind == Touch.Kind.MANUAL and self.actor.role == Role.SALES
        self.keeper = self.actor.member if by_hand else None
        self.sources: dict[str, Source | None] = {}
        self.campaigns: dict[str, Campaign | None] = {}
        self.seen: dict[str, Lead] = {}  # dedupe key -> lead
        self.by_phone: dict[str, Contact] = {}  # valid E.164 -> contact
        self.by_email: dict[str, Contact] = {}  # valid e-mail -> contact
        self.open: dict[int, Lead] = {}  # id(contact) -> its open lead
        self.has_lead: set[int] = set()  # id(contact) of contacts with any lead
        self.last_owner: dict[int, object] = {}  # id(contact) -> owner of its latest lead
        self.loaded: dict[int, Contact] = {}  # pk -> contact read from the database
        self.planned_open: dict[int, int] = {}  # contact pk -> open lead pk, as read
        self.planned_any: set[int] = set()  # contact pks with a lead, as read
        self.stages: list[tuple] = []  # the entry stage, as read
        self.stage = None
        self.new_contacts: list[Contact] = []
        self.filled: dict[int, tuple[Contact, set]] = {}  # read contacts whose gaps were filled
        self.pairs: dict[tuple[int, int], tuple[Contact, Contact]] = {}
        self.new_leads: list[Lead] = []
        self.touches: list[Touch] = []
        self.events: list[LeadEvent] = []
        self.stamp: int | None = None

    # ---- reading what the batch touches

    def preload(self, items: list[tuple[Submission, dict, Identity]]) -> None:
        ws = self.workspace
        if (turn := _TURN.get()) is not None:
            self.stamp = turn.stamp()  # before reading: what is stored after, it has not seen
        subs = [sub for sub, _raw, _who in items]
        dedupe_keys = {_dedupe_key(key_of(sub.source, 64), sub.external_id) for sub in subs}
        with sent_together():
            sources = _by_key(ws, Source, {key_of(sub.source, 64) for sub in subs})
            campaigns = _by_key(ws, Campaign, {key_of(sub.campaign, 100) for sub in subs})
            seen = _leads_seen(ws, dedupe_keys - {""})
            contacts = contacts_matching(workspace=ws, who=[who for _s, _r, who in items])
            stages = entry_stage(ws)
        self.stages = stages.rows()
        self.sources |= {obj.key: obj for (obj,) in sources.rows()}
        self.campaigns |= {obj.key: obj for (obj,) in campaigns.rows()}
        self.seen |= {key: lead for key, lead, *_related in seen.rows()}
        for contact in contacts_found(contacts):
            self.loaded[contact.pk] = contact
            self._index(contact)
        for lead in _leads_of(list(self.loaded)):
            self._know(lead)

    def _know(self, lead: Lead) -> None:
        contact = self.loaded[lead.contact_id]
        lead.workspace, lead.contact = self.workspace, contact
        self.has_lead.add(id(contact))
        self.last_owner[id(contact)] = lead.owner
        self.planned_any.add(contact.pk)
        if lead.is_open:
            self.open[id(contact)] = lead
            self.planned_open[contact.pk] = lead.pk

    def _index(self, contact: Contact) -> None:
        if contact.phone_valid and contact.phone_e164:
            self.by_phone.setdefault(contact.phone_e164, contact)
        if contact.email_valid and contact.email:
            self.by_email.setdefault(contact.email, contact)

    # ---- playing each submission

    def _source(self, name: str) -> Source | None:
        key = key_of(name, 64)
        if key and key not in self.sources:
            _wait_turn()
            self.sources[key] = source_for(workspace=self.workspace, name=name)
        return self.sources.get(key)

    def _campaign(self, name: str, source: Source | None) -> Campaign | None:
        key = key_of(name, 100)
        if key and key not in self.campaigns:
            _wait_turn()
            self.campaigns[key] = campaign_for(workspace=self.workspace, name=name, source=source)
        return self.campaigns.get(key)

    def _contact(self, who: Identity) -> Contact:
        by_phone = self.by_phone.get(who.phone.e164) if who.phone.valid else None
        by_email = self.by_email.get(who.email) if who.email_valid else None
        if by_phone and by_email and by_phone is not by_email:
            self.pairs.setdefault((id(by_phone), id(by_email)), (by_phone, by_email))
        found = by_phone or by_email
        if found is None:
            found = contact_new(workspace=self.workspace, who=who)
            self.new_contacts.append(found)
        else:
            taken = by_email is not None and by_email is not found
            changed = contact_fill_gaps(found, who, email_taken=taken)
            if changed and found.pk:
                self.filled.setdefault(found.pk, (found, set()))[1].update(changed)
        self._index(found)
        return found

    def _open_lead(self, contact: Contact, sub: Submission, source, campaign) -> Lead:
        if self.stage is None:
            self.stage = entry_stage_of(self.stages)
        lead = instance(
            Lead,
            workspace=self.workspace,
            contact=contact,
            source=source,
            campaign=campaign,
            stage=self.stage,
            furthest_stage=self.stage,
            returning=id(contact) in self.has_lead,
            is_test=sub.is_test,
            external_id=sub.external_id,
            fields=sub.fields,
            note=sub.note,
            created_at=clock.now(),
            **{k: sub.utm.get(k, "") for k in UTM_FIELDS},
        )
        self.open[id(contact)] = lead
        self.has_lead.add(id(contact))
        self.new_leads.append(lead)
        return lead

    def capture(self, sub: Submission, raw: dict, who: Identity) -> Captured:
        source = self._source(sub.source)
        dedupe_key = _dedupe_key(source.key if source else "", sub.external_id)
        if seen := self.seen.get(dedupe_key):
            return Captured(seen, created=False, returning=seen.returning, quality=who.quality())
        campaign = self._campaign(sub.campaign, source)
        contact = self._contact(who)
        lead = self.open.get(id(contact))
        created = lead is None
        if created:
            lead = self._open_lead(contact, sub, source, campaign)
        self.touches.append(
            instance(
                Touch,
                workspace=self.workspace,
                lead=lead,
                contact=contact,
                kind=self.kind,
                channel=self.channel,
                import_job=self.import_job,
                source=source,
                campaign=campaign,
                external_id=sub.external_id,
                dedupe_key=dedupe_key,
                utm={k: v for k, v in sub.utm.items() if v},
                fields=sub.fields,
                raw=raw,
                consent=sub.consent,
                received_at=clock.now(),
            )
        )
        data = (
            {"via": self.kind}
            if created
            else {"via": self.kind, "source": getattr(source, "key", "")}
        )
        kind = LeadEvent.Kind.CREATED if created else LeadEvent.Kind.TOUCH
        self.events.append(event_new(lead=lead, actor=self.actor, kind=kind, data=data))
        if dedupe_key:
            self.seen[dedupe_key] = lead
        return Captured(lead, created=created, returning=lead.returning, quality=who.quality())

    # ---- writing

    def write(self, captured: list[Captured]) -> list[int]:
        """Store the plan. Returns the positions of the submissions left out because a
        concurrent writer outdated them (see `_settle`), for the caller to play after.
        A large batch makes its rows that do not depend on the assignment ready before it
        locks the rules, so that it holds them for less time."""
        if len(captured) >= SETTLED_FROM:
            ready = rows_ahead(
                read=(self.new_contacts, self.touches, self.events), ids_only=(self.new_leads,)
            )
            late, router = self._settle(captured, ready)
            contacts = []
        else:  # a small batch plays again, cheaper than the statements that would spare it
            late, router, ready = [], self._lock(), {}
            contacts = self.new_contacts
        assigned, timers = self._route(router)
        # an import tells each rep once, at its end; a rep knows the leads they entered
        tell = self.kind != Touch.Kind.IMPORT and self.keeper is None
        notes = [assigned_note(event.lead) for event in assigned] if tell else []
        events = [*self.events, *assigned]
        rows_insert(contacts, self.new_leads, self.touches, events, timers, notes, ready=ready)
        for contact, fields in self.filled.values():
            contact.save(update_fields=sorted(fields))
        flagged = [
            PossibleDuplicate(
                workspace=self.workspace,
                contact=phone_match,
                other=email_match,
                reason="phone_email_split",
                created_at=clock.now(),
            )
            for phone_match, email_match in self.pairs.values()
        ]
        PossibleDuplicate.objects.bulk_create(flagged, ignore_conflicts=True)
        notifications_publish(notes)
        if (turn := _TURN.get()) is not None:
            turn.wrote(self._written())
        return late

    def _settle(self, captured: list[Captured], ready: Ready) -> tuple[list[int], Router | None]:
        """Check the reading and store the new contacts, leaving out what a concurrent
        writer outdated meanwhile: a new person of this batch it stored too (met at the
        unique constraint, once it committed), a read contact whose leads it moved. Their
        submissions, and those of contacts flagged with them, are taken out of the plan; the
        rest stands, as its outcome did not depend on them. Two batches sharing a few people
        no longer play a thousand submissions again for them. The contacts are stored after
        the assignment rules are locked, so batches write them one at a time (rows written
        at once in different orders would deadlock on the unique constraints)."""
        late: set[int] = set()
        if outdated := self._written_meanwhile():
            late = self._leave_out(captured, outdated)
            if len(late) == len(captured):
                raise _Replan
        for _attempt in range(ATTEMPTS):
            try:
                with transaction.atomic():
                    router = self._lock()
                    rows_insert(self.new_contacts, ready=ready)
                return sorted(late), router
            except (_Replan, IntegrityError):
                if not (outdated := self._outdated()):
                    raise
                late |= self._leave_out(captured, outdated)
                if len(late) == len(captured):  # nothing of the plan stands
                    raise
        raise _Replan

    def _written_meanwhile(self) -> set[int]:
        """id() of the contacts whose plan the batches written before this one in turn (an
        import's earlier chunks) outdated after the reading: known without a query or a write
        that fails. Takes the turn."""
        if (turn := _TURN.get()) is None or self.stamp is None:
            return set()
        turn.wait()
        if not (written := turn.written_since(self.stamp)):
            return set()
        taken = [  # a phone or e-mail this batch would store, stored meanwhile
            c
            for c in self._stored_contacts()
            if (c.phone_valid and c.phone_e164 in written.phones)
            or (c.email_valid and c.email in written.emails)
        ]
        touched = [c for pk, c in self.loaded.items() if pk in written.contacts]
        seen = [related(t, "contact") for t in self.touches if t.dedupe_key in written.dedupe_keys]
        return {id(contact) for contact in (*taken, *touched, *seen)}

    def _stored_contacts(self) -> list[Contact]:
        """The contacts this batch stores: its new ones and the read ones it fills."""
        return [*self.new_contacts, *(contact for contact, _fields in self.filled.values())]

    def _written(self) -> Written:
        """What this batch stores, for the batches planned before it committed."""
        contacts = self._stored_contacts()
        opened = {related(lead, "contact").pk for lead in self.new_leads} & set(self.loaded)
        return Written(
            phones={c.phone_e164 for c in contacts if c.phone_valid},
            emails={c.email for c in contacts if c.email_valid},
            contacts=opened | set(self.filled),
            dedupe_keys={t.dedupe_key for t in self.touches} - {""},
        )

    def _outdated(self) -> set[int]:
        """id() of the contacts whose plan no longer holds (read outside any lock)."""
        phones = {c.phone_e164 for c in self.new_contacts if c.phone_valid}
        emails = {c.email for c in self.new_contacts if c.email_valid}
        stored = contacts_with(workspace=self.workspace, phones=phones, emails=emails)
        taken_phones = {c.phone_e164 for c in stored if c.phone_valid}
        taken_emails = {c.email for c in stored if c.email_valid}
        outdated = {
            id(c)
            for c in self.new_contacts
            if (c.phone_valid and c.phone_e164 in taken_phones)
            or (c.email_valid and c.email in taken_emails)
        }
        if not self.loaded:
            return outdated
        open_now, any_now, gone = self._leads_now(lock=False)
        for pk, contact in self.loaded.items():
            moved = open_now.get(pk) != self.planned_open.get(pk)
            if pk in gone or moved or (pk in any_now) != (pk in self.planned_any):
                outdated.add(id(contact))
        return outdated

    def _leave_out(self, captured: list[Captured], outdated: set[int]) -> set[int]:
        """Take the outdated contacts' submissions out of the plan; their positions."""
        grown = True
        while grown:  # a split flagged with an outdated contact is outdated with it
            grown = False
            for phone_match, email_match in self.pairs.values():
                if id(email_match) in outdated and id(phone_match) not in outdated:
                    outdated.add(id(phone_match))
                    grown = True
        self.new_contacts = [c for c in self.new_contacts if id(c) not in outdated]
        self.new_leads = [x for x in self.new_leads if id(related(x, "contact")) not in outdated]
        self.touches = [t for t in self.touches if id(related(t, "contact")) not in outdated]
        self.events = [
            e for e in self.events if id(related(related(e, "lead"), "contact")) not in outdated
        ]
        self.filled = {pk: f for pk, f in self.filled.items() if id(f[0]) not in outdated}
        self.pairs = {k: pair for k, pair in self.pairs.items() if id(pair[0]) not in outdated}
        for pk in [pk for pk, contact in self.loaded.items() if id(contact) in outdated]:
            del self.loaded[pk]
            self.planned_open.pop(pk, None)
            self.planned_any.discard(pk)
        return {i for i, c in enumerate(captured) if id(related(c.lead, "contact")) in outdated}

    def _lock(self) -> Router | None:
        """Lock the assignment rules (the router, when there are new leads), then the read
        contacts and the open leads the batch joins, and check them. Always in this order: a
        batch that waits for the rules holds no lead, so the one holding them may lock any
        lead it joins; contacts before leads, as a merge takes them."""
        _wait_turn()
        router = Router(self.workspace) if self.new_leads else None
        self._check_plan()
        return router

    def _route(self, router: Router | None) -> tuple[list[LeadEvent], list[Timer]]:
        """Owners for the new leads by the assignment rules (or the rep who entered them by
        hand): their timeline rows; SLA timers."""
        if not self.new_leads:
            return [], []
        channel_id = self.channel.pk if self.channel else None
        assigned, timers = [], []
        for lead in self.new_leads:
            if self.keeper:
                assigned.append(assignment_new(lead, self.keeper, self.actor, "manual"))
            else:
                previous = self.last_owner.get(id(lead.contact)) if lead.returning else None
                pick = router.pick(lead, channel_id=channel_id, previous=previous)
                if pick.owner is not None:
                    assigned.append(assignment_new(lead, pick.owner, self.actor, pick.reason))
            timers.extend(timers_for_new(lead, router.policy, router.business, router.now))
        router.save()
        return assigned, timers

    def _check_plan(self) -> None:
        """Lock the read contacts and the open leads the batch joins, and check that no lead
        moved since the reading (nor a contact was merged away)."""
        if not self.loaded:
            return
        open_now, any_now, gone = self._leads_now(lock=True)
        if gone or (open_now, any_now) != (self.planned_open, self.planned_any):
            raise _Replan

    def _leads_now(self, lock: bool) -> tuple[dict[int, int], set[int], set[int]]:
        """The read contacts' open leads (contact pk -> lead pk), those with any lead, and
        those gone since (merged away), as stored now. With `lock`, every read contact is kept
        from being deleted (the rows the batch writes refer to them without a database
        constraint, see docs/decisions.md), in id order as a merge locks them; then the open
        leads are locked: contacts before leads, the order a merge takes them in."""
        contacts = listed(self.loaded)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.id, EXISTS (SELECT 1 FROM {LEADS} l WHERE l.contact_id = c.id)"
                f" FROM {CONTACTS} c WHERE {any_of('c.id')} ORDER BY c.id"
                + (for_update("KEY SHARE") if lock else ""),
                [contacts],
            )
            found = dict(cursor.fetchall())  # contact pk -> whether it has a lead
            cursor.execute(
                f"SELECT contact_id, id FROM {LEADS} WHERE {any_of('contact_id')} AND is_open"
                + (for_update() if lock else ""),
                [contacts],
            )
            with_leads = {pk for pk, has_leads in found.items() if has_leads}
            return dict(cursor.fetchall()), with_leads, set(self.loaded) - set(found)


# What a batch reads, written by hand: for a batch of one lead (a single POST, a webhook
# delivery) compiling these querysets cost more CPU than the database took to answer them.

LEADS = Lead._meta.db_table
CONTACTS = Contact._meta.db_table


def _by_key(workspace: Workspace, model: type[Source | Campaign], keys: set[str]) -> Pending:
    """The read of the workspace's sources (or campaigns) among `keys`."""
    if not (keys := keys - {""}):
        return NOTHING
    return fetch_joined_later(
        "SELECT {select} FROM {s} WHERE s.workspace_id = %s AND " + any_of("s.key"),
        [workspace.pk, listed(keys)],
        s=model,
    )


def _leads_seen(workspace: Workspace, dedupe_keys: set[str]) -> Pending:
    """The read of the leads whose touches came with these dedupe keys (key first)."""
    if not dedupe_keys:
        return NOTHING
    return fetch_joined_later(
        "SELECT t.dedupe_key, {select} FROM " + Touch._meta.db_table + " t"
        " JOIN {l} ON l.id = t.lead_id"
        " JOIN {s} ON s.id = l.stage_id LEFT JOIN {o} ON o.id = l.owner_id"
        " JOIN {c} ON c.id = l.contact_id"
        " WHERE t.workspace_id = %s AND NOT (t.dedupe_key = '') AND " + any_of("t.dedupe_key"),
        [workspace.pk, listed(dedupe_keys)],
        leading=1,
        l=Lead,
        s=Stage,
        o=Member,
        c=Contact,
    )


def _leads_of(contact_ids: list[int]) -> list[Lead]:
    """The leads of these contacts, oldest first, with their stage and owner."""
    if not contact_ids:
        return []
    found = fetch_joined(
        "SELECT {select} FROM {l} JOIN {s} ON s.id = l.stage_id"
        " LEFT JOIN {o} ON o.id = l.owner_id WHERE " + any_of("l.contact_id") + " ORDER BY l.id",
        [listed(contact_ids)],
        l=Lead,
        s=Stage,
        o=Member,
    )
    return [lead for lead, *_related in found]


def _dedupe_key(source_key: str, external_id: str) -> str:
    return f"{source_key}:{external_id}" if external_id else ""


def _play(origin: _Origin, items) -> list[Captured]:
    if not items:
        return []
    with transaction.atomic():
        batch = _Batch(origin)
        batch.preload([(sub, raw, who) for _i, sub, raw, who in items])
        captured = [batch.capture(sub, raw, who) for _i, sub, raw, who in items]
        if late := batch.write(captured):  # played after the others, on what is stored now
            again = _play(origin, [items[i] for i in late])
            for position, outcome in zip(late, again, strict=True):
                captured[position] = outcome
    return captured


def _play_batch(origin: _Origin, items) -> list[Captured] | None:
    """The whole batch, planned again after a concurrent write; None when a submission fails."""
    for _attempt in range(ATTEMPTS):
        try:
            return _play(origin, items)
        except RETRYABLE:
            continue
        except (DataError, ApplicationError):
            return None
    return None


def _play_split(origin: _Origin, items) -> list[Captured | ApplicationError]:
    """The items as one batch; when that fails (a submission that cannot be stored, or writes
    that kept meeting concurrent ones), each half in turn, down to one submission alone. Halves
    played in order are still one submission after another, so the outcome is the same; a
    thousand leads that met a concurrent batch are not played a thousand times one by one."""
    played = _play_batch(origin, items)
    if played is not None:
        return played
    if len(items) == 1:
        return [_play_alone(origin, items[0])]
    half = len(items) // 2
    return [
        *_play_split(origin, items[:half]),
        *_play_split(origin, items[half:]),
    ]


def _play_alone(origin: _Origin, item) -> Captured | ApplicationError:
    for attempt in range(ATTEMPTS):
        try:
            return _play(origin, [item])[0]
        except ApplicationError as exc:
            return exc
        except DataError:  # a value the database refuses (a NUL character on PostgreSQL)
            return ValidationFailed(_("The lead holds a value that cannot be stored."))
        except RETRYABLE:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def leads_capture(
    *,
    workspace: Workspace,
    actor: Actor,
    submissions: list[tuple[Submission, dict | None]],
    kind: str = Touch.Kind.API,
    channel: Channel | None = None,
    import_job: Import | None = None,
    on_worker: bool = False,
    turn: Turn | None = None,
) -> list[Captured | ApplicationError]:
    """Clean, de-duplicate and store (submission, raw payload) pairs as if one after another.

    One result per submission, in order: its Captured, or the error it alone met. The batch is
    written in one transaction, planned again when it meets a concurrent write; when one
    submission fails, the halves are played in turn down to that one alone, so a bad submission
    never blocks the others. New contacts are then checked for fuzzy duplicates: by a task,
    or at once when the caller runs `on_worker`. With a `turn`, the batch waits for it before
    it first writes or locks anything: when it is planned, or before it stores a source or
    campaign new to the workspace; until then it has only read. It then leaves out what the
    batches written before it in turn outdated (see `Turn`), and plays it after the rest.
    """
    actor.require(actor.captures_leads)
    results: list = [None] * len(submissions)
    items = []
    for index, (sub, raw) in enumerate(submissions):
        who = Identity.clean(name=sub.full_name, phone=sub.phone, email=sub.email)
        if who.has_channel:
            items.append((index, sub, raw or {}, who))
        else:
            results[index] = _no_channel()
    token = _TURN.set(turn)
    try:
        played = _play_split(_Origin(workspace, actor, kind, channel, import_job), items)
    finally:
        _TURN.reset(token)
    for (index, *_rest), outcome in zip(items, played, strict=True):
        results[index] = outcome
    new_contacts = _new_contacts(played)
    duplicates_check_soon(workspace=workspace, contacts=new_contacts, on_worker=on_worker)
    transaction.on_commit(
        partial(statistics_keep_up, workspace.pk, touches=len(items), contacts=len(new_contacts))
    )
    return results


def _new_contacts(played: list) -> list[Contact]:
    """The contacts the batch created (a first lead that is not returning), for the finder."""
    return [
        related(c.lead, "contact")
        for c in played
        if isinstance(c, Captured) and c.created and not c.returning
    ]


def lead_capture(
    *,
    workspace: Workspace,
    actor: Actor,
    submission: Submission,
    kind: str = Touch.Kind.API,
    channel: Channel | None = None,
    raw: dict | None = None,
) -> Captured:
    """Clean, de-duplicate and store one submission; open a lead or join the open one.

    Outside a transaction, concurrent calls of this process with the same actor, kind and
    channel are written together (group commit); inside one, the submission is played at once
    so it stays part of the caller's transaction.
    """
    assert actor.workspace == workspace, "the actor acts in another workspace"
    item = (submission, raw)
    if transaction.get_connection().in_atomic_block:
        outcome = _play_group((actor, kind, channel), [item])[0]
    else:
        outcome = _GROUPS.submit((actor, kind, channel), item)
    if isinstance(outcome, ApplicationError):
        raise outcome
    return outcome


def lead_enter(*, actor: Actor, submission: Submission, raw: dict) -> Captured:
    """A lead a member types in (the New lead page). A phone or an e-mail that is not valid is
    refused, for the person typing to fix at once (leads that arrive keep theirs, flagged). A
    sales rep's new lead is theirs (`_Batch.keeper`), and so is an open lead waiting for a rep
    that their entry joins: they are the one talking to the person."""
    who = Identity.clean(name=submission.full_name, phone=submission.phone, email=submission.email)
    errors = {}
    if submission.phone.strip() and not who.phone.valid:
        errors["phone"] = [
            _("This is not a valid phone number. Another way to reach them can go in the note.")
        ]
    if submission.email.strip() and not who.email_valid:
        errors["email"] = [_("This is not a valid e-mail address.")]
    if errors:
        raise ValidationFailed(_("Check the phone number and the e-mail address."), fields=errors)
    captured = lead_capture(
        workspace=actor.workspace,
        actor=actor,
        submission=submission,
        kind=Touch.Kind.MANUAL,
        raw=raw,
    )
    if actor.role == Role.SALES and captured.lead.owner_id is None:
        lead_claim(lead=captured.lead, actor=actor)
    return captured


def _play_group(key: tuple[Actor, str, Channel | None], items: list) -> list:
    actor, kind, channel = key
    return leads_capture(
        workspace=actor.workspace, actor=actor, submissions=items, kind=kind, channel=channel
    )


def _release_connection() -> None:
    """A request waiting for its batch gives its connection back to the pool meanwhile."""
    transaction.get_connection().close()


_GROUPS = GroupCommit(_play_group, before_wait=_release_connection)


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


def _channel_errors(kind: str, name: str, settings: dict) -> dict:
    errors = {}
    if kind not in Channel.Kind.values:
        errors["kind"] = [_("Unknown channel kind.")]
    elif unknown := set(settings) - CHANNEL_SETTINGS[kind]:
        errors["settings"] = [_("Unknown settings: %s") % ", ".join(sorted(unknown))]
    rate = settings.get("rate_limit")
    rate = "" if rate is None else str(rate)  # unset: the default
    if rate and not (rate.isascii() and rate.isdigit() and 1 <= int(rate) <= 1000):
        errors["rate_limit"] = [_("A whole number of submissions per minute, 1 to 1000.")]
    for key, value in settings.items():
        if key == "allowed_origins":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[key] = [_("A list of site addresses.")]
        elif key != "rate_limit" and not isinstance(value, str):
            errors[key] = [_("A text.")]
    if not name.strip() or len(name) > 100:
        errors["name"] = [_("Between 1 and 100 characters.")]
    if redirect := settings.get("redirect_url"):
        try:
            URLValidator(schemes=["http", "https"])(redirect)
        except DjangoValidationError:
            errors["redirect_url"] = [_("A page address starting with https:// or http://.")]
    return errors


@transaction.atomic
def channel_create(
    *, workspace: Workspace, actor: Actor, kind: str, name: str, settings: dict
) -> Channel:
    actor.require(actor.role in ("admin", "marketer"))
    if errors := _channel_errors(kind, name, settings):
        raise ValidationFailed(_("The channel is not valid."), fields=errors)
    taken = Channel.objects.filter(workspace=workspace, kind=kind).exists()
    if taken and kind != Channel.Kind.FORM:  # /hooks/<workspace>/<provider> finds it by kind
        message = _("This workspace already has a channel of this kind.")
        raise Conflict(message, code="channel_exists")
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


@transaction.atomic
def channel_update(
    *, channel: Channel, actor: Actor, name: str, settings: dict, active: bool
) -> Channel:
    """Rename, reconfigure, pause or resume a channel; secrets left blank keep their value."""
    actor.require(actor.role in ("admin", "marketer"))
    kept = {k: v for k, v in channel.settings.items() if k in SECRETS and not settings.get(k)}
    merged = {**{k: v for k, v in settings.items() if v not in ("", None, [])}, **kept}
    if errors := _channel_errors(channel.kind, name, merged):
        raise ValidationFailed(_("The channel is not valid."), fields=errors)
    keys = set(merged) | set(channel.settings)
    changed = sorted(k for k in keys if merged.get(k) != channel.settings.get(k))
    channel.name, channel.settings, channel.active = name.strip(), merged, active
    channel.refused_at = None  # a refusal before this save may have been the old secret's
    channel.save(update_fields=["name", "settings", "active", "refused_at"])
    audit_record(
        actor=actor,
        action="channel.update",
        obj=channel,
        data={"changed": changed, "active": active},
    )
    return channel


def channel_inbound_path(channel: Channel) -> str:
    base = f"/hooks/{channel.workspace.slug}"
    return (
        f"{base}/forms/{channel.key}"
        if channel.kind == Channel.Kind.FORM
        else f"{base}/{channel.kind}"
    )
