import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from leadloop.campaigns.services import campaign_for, source_for
from leadloop.contacts.models import Contact
from leadloop.contacts.services import Identity, contact_resolve
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import Conflict, ValidationFailed
from leadloop.core.models import Workspace
from leadloop.core.services import audit_record
from leadloop.intake.models import Channel, IdempotencyRecord, Touch
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import entry_stage, event_record
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
                workspace=workspace, contact=contact, source=source, campaign=campaign,
                stage=stage, furthest_stage=stage, returning=returning,
                external_id=sub.external_id, fields=sub.fields, note=sub.note,
                created_at=clock.now(), **{k: sub.utm.get(k, "") for k in UTM_FIELDS},
            )
    except IntegrityError:  # a concurrent submission opened it first: join that one
        return Lead.objects.select_for_update().get(contact=contact, is_open=True), False, False
    return lead, True, returning


def _seen_before(workspace: Workspace, dedupe_key: str) -> Lead | None:
    if not dedupe_key:
        return None
    touch = Touch.objects.filter(workspace=workspace, dedupe_key=dedupe_key).select_related(
        "lead"
    )
    return touch.first().lead if touch.exists() else None


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
        workspace=workspace, lead=lead, contact=contact, kind=kind, channel=channel,
        source=source, campaign=campaign, external_id=sub.external_id, dedupe_key=dedupe_key,
        utm={k: v for k, v in sub.utm.items() if v}, fields=sub.fields, raw=raw,
        received_at=clock.now(),
    )
    if created:
        event_record(lead=lead, actor=actor, kind=LeadEvent.Kind.CREATED, data={"via": kind})
        lead_assign_round_robin(lead=lead, actor=actor)
    else:
        event_record(lead=lead, actor=actor, kind=LeadEvent.Kind.TOUCH,
                     data={"via": kind, "source": source.key if source else ""})
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
    who = Identity.clean(name=submission.full_name, phone=submission.phone,
                         email=submission.email)
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
        raise Conflict(_("This Idempotency-Key was used with another request body."),
                       code="idempotency_key_reused")
    return record.status, record.body


def idempotent(
    *, workspace: Workspace, key: str, payload, produce: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run `produce` once per key: a retry with the same payload replays the first answer."""
    if not key:
        return produce()
    if len(key) > 255:
        raise ValidationFailed(_("Idempotency-Key is longer than 255 characters."),
                               fields={"Idempotency-Key": [_("At most 255 characters.")]})
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
                        workspace=workspace, key=key, request_hash=digest, status=status,
                        body=body, created_at=clock.now(),
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
        workspace=workspace, kind=kind, name=name.strip(), key=secrets.token_urlsafe(12),
        settings=settings, created_at=clock.now(),
    )
    audit_record(actor=actor, action="channel.create", obj=channel, data={"kind": kind})
    return channel


def channel_inbound_path(channel: Channel) -> str:
    base = f"/hooks/{channel.workspace.slug}"
    return f"{base}/forms/{channel.key}" if channel.kind == Channel.Kind.FORM else f"{base}/{channel.kind}"
