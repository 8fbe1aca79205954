from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from leadloop.activities.models import Activity
from leadloop.contacts.duplicates import BLOCK_FIELDS, pairs_in_blocks
from leadloop.contacts.models import Contact, ContactMerge, PossibleDuplicate
from leadloop.contacts.normalize import (
    Phone,
    fold,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from leadloop.contacts.normalize import quality_issues as _quality_issues
from leadloop.contacts.selectors import contact_missing
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.bulk import instance
from leadloop.core.errors import NotFound, ValidationFailed
from leadloop.core.joined import Pending, any_of, fetch_joined_later, listed
from leadloop.core.models import Role, Workspace
from leadloop.core.services import audit_record
from leadloop.intake.models import Touch
from leadloop.pipeline.models import Category, Lead, LeadEvent, Stage
from leadloop.pipeline.services import event_record


@dataclass(frozen=True)
class Identity:
    """A submission's cleaned person data."""

    name: str
    phone: Phone
    email: str
    email_valid: bool

    @classmethod
    def clean(cls, *, name: str | None, phone: str | None, email: str | None) -> "Identity":
        clean_email, email_valid = normalize_email(email)
        return cls(normalize_name(name), normalize_phone(phone), clean_email, email_valid)

    @property
    def has_channel(self) -> bool:
        return bool(self.phone.raw or self.email)

    def quality(self) -> dict:
        return {
            "phone_e164": self.phone.e164,
            "phone_valid": self.phone.valid,
            "email_valid": self.email_valid,
            "issues": _quality_issues(
                name=self.name, phone=self.phone, email=self.email, email_valid=self.email_valid
            ),
        }

    def search_key(self) -> str:
        return " ".join(p for p in (fold(self.name), self.phone.national, self.email) if p)[:600]


def contacts_matching(*, workspace: Workspace, who: list[Identity]) -> list[Pending]:
    """The reads of the contacts whose valid phone or valid e-mail is among the submissions'
    (sent, see `sent_together`; `contacts_found` reads them)."""
    phones = {w.phone.e164 for w in who if w.phone.valid}
    emails = {w.email for w in who if w.email_valid}
    return _contacts_with(workspace=workspace, phones=phones, emails=emails)


def contacts_with(*, workspace: Workspace, phones: set[str], emails: set[str]) -> list[Contact]:
    """The contacts with one of these phones (E.164) or e-mails, valid."""
    return contacts_found(_contacts_with(workspace=workspace, phones=phones, emails=emails))


def _contacts_with(*, workspace: Workspace, phones: set[str], emails: set[str]) -> list[Pending]:
    reads = []
    for column, values in (("phone_e164", sorted(phones)), ("email", sorted(emails))):
        if values:
            valid = "phone_valid" if column == "phone_e164" else "email_valid"
            reads.append(
                fetch_joined_later(
                    "SELECT {select} FROM {c} WHERE c.workspace_id = %s AND c."
                    + valid
                    + " AND "
                    + any_of(f"c.{column}"),
                    [workspace.pk, listed(values)],
                    c=Contact,
                )
            )
    return reads


def contacts_found(reads: list[Pending]) -> list[Contact]:
    """The contacts these reads found, each once."""
    found = {}
    for read in reads:
        found |= {contact.pk: contact for (contact,) in read.rows()}
    return list(found.values())


def match_keys(*, phone_e164: str, email: str) -> dict:
    """The blocking keys the fuzzy duplicate finder looks contacts up by (see Contact)."""
    local, at, _domain = email.partition("@")
    return {
        "phone_head": phone_e164[:-4],
        "phone_tail": phone_e164[-4:],
        "email_local": local[:64] if at else "",
    }


def contact_new(*, workspace: Workspace, who: Identity) -> Contact:
    """An unsaved contact for a submission that matched nobody."""
    return instance(
        Contact,
        **match_keys(phone_e164=who.phone.e164, email=who.email[:254]),
        workspace=workspace,
        full_name=who.name[:200],
        phone_raw=who.phone.raw[:64],
        phone_e164=who.phone.e164,
        phone_valid=who.phone.valid,
        email=who.email[:254],
        email_valid=who.email_valid,
        search_key=who.search_key(),
        created_at=clock.now(),
    )


def contact_fill_gaps(contact: Contact, who: Identity, *, email_taken: bool) -> set[str]:
    """Complete a matched contact with what it lacks (in memory); returns the changed fields."""
    changed = set()
    if not contact.full_name and who.name:
        contact.full_name = who.name[:200]
        changed.add("full_name")
    if not contact.email and who.email and not email_taken:
        contact.email, contact.email_valid = who.email[:254], who.email_valid
        changed |= {"email", "email_valid"}
    if not contact.phone_raw and who.phone.raw:
        contact.phone_raw, contact.phone_e164 = who.phone.raw[:64], who.phone.e164
        contact.phone_valid = who.phone.valid
        changed |= {"phone_raw", "phone_e164", "phone_valid"}
    if changed:
        changed |= contact_refresh_keys(contact)
    return changed


def contact_refresh_keys(contact: Contact) -> set[str]:
    """Recompute the search and blocking keys of a contact whose fields changed (in memory)."""
    stored = Identity(
        contact.full_name, normalize_phone(contact.phone_raw), contact.email, contact.email_valid
    )
    contact.search_key = stored.search_key()
    keys = match_keys(phone_e164=contact.phone_e164, email=contact.email)
    for name, value in keys.items():
        setattr(contact, name, value)
    return {"search_key", *keys}


# ---- possible duplicates


def duplicates_find(*, workspace: Workspace, contacts: list[Contact]) -> int:
    """Flag the fuzzy duplicates of `contacts` (contacts.duplicates rules) over blocked
    candidates only; pairs already known, even dismissed ones, are left alone. Returns the
    number of new pairs. Safe to run twice."""
    keys = {name: {getattr(c, name) for c in contacts} - {""} for name in BLOCK_FIELDS}
    if not any(keys.values()):
        return 0
    blocked = Q()
    for name, values in keys.items():
        if values:
            blocked |= Q(**{f"{name}__in": sorted(values)})
    block = list(
        Contact.objects.filter(blocked, workspace=workspace).only(
            "full_name", "phone_e164", "email", *BLOCK_FIELDS
        )
    )
    found = pairs_in_blocks(contacts, block)
    if not found:
        return 0
    ids = {pk for pair in found for pk in pair}
    known = PossibleDuplicate.objects.filter(
        Q(contact_id__in=ids) | Q(other_id__in=ids), workspace=workspace
    ).values_list("contact_id", "other_id")
    for a, b in known:
        found.pop((min(a, b), max(a, b)), None)
    created = PossibleDuplicate.objects.bulk_create(
        [
            PossibleDuplicate(
                workspace=workspace,
                contact_id=low,
                other_id=high,
                reason=candidate.reason,
                score=candidate.score,
                created_at=clock.now(),
            )
            for (low, high), candidate in sorted(found.items())
        ],
        ignore_conflicts=True,
    )
    return len(created)


def duplicates_scan(*, workspace: Workspace, chunk: int = 500) -> int:
    """The fuzzy finder over every contact of the workspace, in id order, chunk by chunk."""
    created, last = 0, 0
    while batch := list(
        Contact.objects.filter(workspace=workspace, pk__gt=last).order_by("pk")[:chunk]
    ):
        created += duplicates_find(workspace=workspace, contacts=batch)
        last = batch[-1].pk
    return created


def _require_manager(actor: Actor) -> None:
    actor.require(actor.role in (Role.ADMIN, Role.MANAGER))


@transaction.atomic
def duplicate_dismiss(*, workspace: Workspace, actor: Actor, pair_id: int) -> PossibleDuplicate:
    """ "Not a duplicate": the pair leaves the queue and the finder never proposes it again."""
    _require_manager(actor)
    pair = (
        PossibleDuplicate.objects.select_for_update()
        .filter(workspace=workspace, pk=pair_id)
        .first()
    )
    if pair is None:
        raise NotFound(_("Pair not found."))
    if pair.status != PossibleDuplicate.Status.DISMISSED:
        pair.status = PossibleDuplicate.Status.DISMISSED
        pair.decided_by, pair.decided_at = actor.member, clock.now()
        pair.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            actor=actor,
            action="duplicate.dismiss",
            obj=pair,
            data={"contacts": [pair.contact_id, pair.other_id], "reason": pair.reason},
        )
    return pair


# ---- merge

MERGE_FIELDS = {
    "full_name": ("full_name",),
    "phone": ("phone_raw", "phone_e164", "phone_valid"),
    "email": ("email", "email_valid"),
}


def _has(contact: Contact, field: str) -> tuple[bool, bool]:
    """(valid, present) of a merge field: what the default choice prefers, in that order."""
    if field == "full_name":
        return bool(contact.full_name), bool(contact.full_name)
    if field == "phone":
        return contact.phone_valid, bool(contact.phone_raw)
    return contact.email_valid, bool(contact.email)


def _choose(gone: Contact, survivor: Contact, fields: dict) -> dict[str, Contact]:
    """Which contact's value survives per field: the asked one, else the survivor's unless only
    the merged-away contact has a valid (or any) value."""
    both = {gone.pk: gone, survivor.pk: survivor}
    errors = {}
    for name, chosen in fields.items():
        if name not in MERGE_FIELDS:
            errors[name] = [_("Unknown field.")]
        elif chosen not in both:
            errors[name] = [_("Choose one of the two contacts.")]
    if errors:
        raise ValidationFailed(_("The field choice is not valid."), fields=errors)
    return {
        name: both[fields[name]]
        if name in fields
        else (survivor if _has(survivor, name) >= _has(gone, name) else gone)
        for name in MERGE_FIELDS
    }


def merge_defaults(gone: Contact, survivor: Contact) -> dict[str, int]:
    """Per field, the id of the contact whose value a merge keeps when none is asked for."""
    return {name: source.pk for name, source in _choose(gone, survivor, {}).items()}


def contact_values(contact: Contact) -> dict:
    return {
        "id": contact.pk,
        "full_name": contact.full_name,
        "phone": contact.phone_raw,
        "phone_e164": contact.phone_e164,
        "phone_valid": contact.phone_valid,
        "email": contact.email,
        "email_valid": contact.email_valid,
    }


OPEN_PROGRESS = [Category.NEW, Category.WORKING, Category.QUALIFIED]


def _progress(lead: Lead) -> tuple[int, int]:
    """How far an open lead has come: its stage's category, then the stage's place."""
    return OPEN_PROGRESS.index(lead.stage.category), lead.stage.position


def _merge_plan(gone: Contact, survivor: Contact, chosen: dict, leads: list) -> dict:
    open_leads = [lead for lead in leads if lead.is_open]  # oldest first
    kept = max(open_leads, key=_progress, default=None)  # the furthest; of equals, the oldest
    closing = next((lead for lead in open_leads if lead is not kept), None)
    result = contact_values(survivor)
    for name, source in chosen.items():
        for column in MERGE_FIELDS[name]:
            result[column.replace("_raw", "")] = getattr(source, column)
    actions = {}
    for lead in leads:
        if lead is closing:
            actions[lead.pk] = "closed_as_merged"
        elif lead.contact_id == gone.pk:
            actions[lead.pk] = "moved"
        else:
            actions[lead.pk] = "kept"
    return {
        "merged": gone.pk,
        "into": survivor.pk,
        "contact": result,
        "fields": {name: source.pk for name, source in chosen.items()},
        "leads": [
            {
                "id": lead.pk,
                "contact_id": lead.contact_id,
                "is_open": lead.is_open and lead is not closing,
                "action": actions[lead.pk],
            }
            for lead in leads
        ],
        "open_lead": kept.pk if kept else None,
        "closed_lead": closing.pk if closing else None,
        "closed_stage": _exit_stage(closing.workspace).key if closing else None,
    }


def _exit_stage(workspace: Workspace) -> Stage:
    stages = Stage.objects.filter(workspace=workspace, archived=False)
    stage = (
        stages.filter(category=Category.INVALID).first()
        or stages.filter(category=Category.LOST).first()
    )
    if stage is None:
        raise ValidationFailed(_("The workspace has no active Invalid or Lost stage."))
    return stage


def _not_kept(gone: Contact, survivor: Contact, chosen: dict[str, Contact]) -> dict[str, str]:
    """The values the merge drops ({field: value}), for the timeline: what the other contact
    had where it differs from what is kept."""
    dropped = {}
    for name, source in chosen.items():
        other = survivor if source is gone else gone
        column = MERGE_FIELDS[name][0]
        if getattr(other, column) and getattr(other, column) != getattr(source, column):
            dropped[name] = getattr(other, column)
    return dropped


def _close_as_merged(closing: Lead, kept: Lead, actor: Actor, dropped: dict) -> None:
    """The other of two open leads: its touches and activities move to the one kept (the one
    furthest along), which stays open; it closes in the workspace's first Invalid (else Lost)
    stage, on its timeline."""
    Touch.objects.filter(lead=closing).update(lead=kept)
    Activity.objects.filter(lead=closing).update(lead=kept)
    moved_kinds = [LeadEvent.Kind.TOUCH, LeadEvent.Kind.ACTIVITY]
    LeadEvent.objects.filter(lead=closing, kind__in=moved_kinds).update(lead=kept)
    kept.call_attempts += closing.call_attempts
    firsts = [t for t in (kept.first_contact_at, closing.first_contact_at) if t]
    lasts = [t for t in (kept.last_activity_at, closing.last_activity_at) if t]
    kept.first_contact_at = min(firsts, default=None)
    kept.last_activity_at = max(lasts, default=None)
    kept.save(update_fields=["call_attempts", "first_contact_at", "last_activity_at"])
    previous, stage = closing.stage, _exit_stage(closing.workspace)
    closing.stage, closing.is_open, closing.closed_at = stage, False, clock.now()
    closing.call_attempts = 0
    closing.save(update_fields=["stage", "is_open", "closed_at", "call_attempts"])
    event_record(
        lead=closing,
        actor=actor,
        kind=LeadEvent.Kind.STAGE,
        from_stage=previous,
        to_stage=stage,
        reason=(_("Merged into lead #%(id)s") % {"id": kept.pk})[:500],
        data={"merged_into": kept.pk},
    )
    data = {"lead": closing.pk, "dropped": dropped}
    event_record(lead=kept, actor=actor, kind=LeadEvent.Kind.MERGED, data=data)


@transaction.atomic
def contact_merge(
    *,
    workspace: Workspace,
    actor: Actor,
    contact_id: int,
    into_id: int,
    fields: dict | None = None,
    dry_run: bool = False,
) -> dict:
    """Merge contact `contact_id` into `into_id`: leads, touches and pairs move to the survivor,
    each field keeps the chosen contact's value, one open lead remains (see _close_as_merged),
    and the merged-away id points to the survivor. `dry_run` returns the same answer unwritten.
    Both contacts are locked (in id order), so concurrent merges of a pair cannot interleave."""
    _require_manager(actor)
    if contact_id == into_id:
        raise ValidationFailed(
            _("A contact cannot be merged into itself."), fields={"into": [str(into_id)]}
        )
    ids = [contact_id, into_id]
    locked = Contact.objects.select_for_update().filter(workspace=workspace, pk__in=ids)
    found = {c.pk: c for c in locked.order_by("pk")}
    for pk in ids:
        if pk not in found:
            raise contact_missing(workspace=workspace, contact_id=pk)
    gone, survivor = found[contact_id], found[into_id]
    chosen = _choose(gone, survivor, fields or {})
    leads = list(
        Lead.objects.select_for_update(of=("self",))
        .filter(workspace=workspace, contact_id__in=ids)
        .select_related("stage", "workspace")
        .order_by("created_at", "id")
    )
    plan = _merge_plan(gone, survivor, chosen, leads)
    if dry_run:
        return plan
    by_id = {lead.pk: lead for lead in leads}
    dropped = _not_kept(gone, survivor, chosen)
    if plan["closed_lead"]:
        _close_as_merged(by_id[plan["closed_lead"]], by_id[plan["open_lead"]], actor, dropped)
    Lead.objects.filter(contact=gone).update(contact=survivor)
    Touch.objects.filter(contact=gone).update(contact=survivor)
    for lead in leads:
        if lead.contact_id == gone.pk:
            event_record(
                lead=lead,
                actor=actor,
                kind=LeadEvent.Kind.MERGED,
                data={"from_contact": gone.pk, "into_contact": survivor.pk, "dropped": dropped},
            )
    _move_pairs(workspace, gone, survivor)
    ContactMerge.objects.filter(workspace=workspace, into=gone).update(into=survivor)
    ContactMerge.objects.create(
        workspace=workspace, merged_id=gone.pk, into=survivor, at=clock.now()
    )
    before = {"merged": contact_values(gone), "into": contact_values(survivor)}
    gone.delete()
    for name, source in chosen.items():
        for column in MERGE_FIELDS[name]:
            setattr(survivor, column, getattr(source, column))
    contact_refresh_keys(survivor)
    survivor.save()
    audit_record(
        actor=actor,
        action="contact.merge",
        obj=survivor,
        data={**before, "fields": plan["fields"], "closed_lead": plan["closed_lead"]},
    )
    return plan


def _move_pairs(workspace: Workspace, gone: Contact, survivor: Contact) -> None:
    """The merged-away contact's pairs become the survivor's, unless the survivor has one with
    the same contact already (its decision stands) or the pair is the merged one itself."""
    pairs = PossibleDuplicate.objects.filter(workspace=workspace)
    mine = pairs.filter(Q(contact=survivor) | Q(other=survivor)).values_list(
        "contact_id", "other_id"
    )
    partners = {a if b == survivor.pk else b for a, b in mine}
    for pair in pairs.filter(Q(contact=gone) | Q(other=gone)):
        partner = pair.other_id if pair.contact_id == gone.pk else pair.contact_id
        if partner == survivor.pk or partner in partners:
            pair.delete()
            continue
        partners.add(partner)
        side = "contact_id" if pair.contact_id == gone.pk else "other_id"
        setattr(pair, side, survivor.pk)
        pair.save(update_fields=[side.removesuffix("_id")])
