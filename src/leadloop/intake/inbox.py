"""The raw inbox: store every webhook delivery before answering, process it on the worker with
retries and backoff, replay the failed ones, and reconcile Facebook forms after long outages.

Kept beside services.py (the capture engine, which every lead here goes through). A provider's
lead enters with `external_id` = the provider's lead id and the provider's name as its source, so
the engine's de-duplication on (source, external id) makes redeliveries, replays and
reconciliations harmless; they are checked first, so a known lead costs no Graph API call.
"""

import ipaddress
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import httpx
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from leadloop.campaigns.services import key_of
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.bulk import instance, row_insert
from leadloop.core.errors import ApplicationError, Conflict, NotFound
from leadloop.core.joined import any_of, fetch_joined, listed
from leadloop.core.models import Workspace
from leadloop.core.services import audit_record
from leadloop.intake.models import Channel, Delivery, FacebookForm, Touch
from leadloop.intake.providers import (
    PROVIDERS,
    GraphError,
    Item,
    Provider,
    graph_client,
    graph_form_leads,
    graph_lead,
    parse_json,
    submission_of,
)
from leadloop.intake.services import _dedupe_key, leads_capture

log = logging.getLogger(__name__)

# seconds before attempts 2..7; a delivery still failing after the 7th (about 8.6 hours) is failed
RETRY_DELAYS = (10, 60, 300, 1800, 7200, 21600)
STALE = timedelta(minutes=5)  # a waiting delivery older than this lost its task: enqueue again
RETENTION = timedelta(days=30)  # processed deliveries (raw personal data) are kept this long
RECONCILE_MARGIN = 3600  # seconds before the last reconciliation that are read again
FETCHERS = 4  # parallel Graph API reads per delivery
BATCH_SIZE = 200  # deliveries of one channel captured together by one task
SECRET_HEADERS = {"cookie", "authorization"}
Status = Delivery.Status


def _enqueue(delivery_id: int, delay: int = 0) -> None:
    from leadloop.intake.tasks import delivery_process_task  # tasks import this module

    if delay:
        delivery_process_task.schedule((delivery_id,), delay=delay)
    else:
        delivery_process_task(delivery_id)


def _enqueue_on_commit(ids: list[int]) -> None:
    def send() -> None:
        try:
            for delivery_id in ids:
                _enqueue(delivery_id)
        except Exception:  # the queue is down: the deliveries are stored, the sweep sends them
            log.exception("could not enqueue deliveries %s", ids[:20])

    transaction.on_commit(send)


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


REFUSAL_NOTED_EVERY = timedelta(minutes=1)


def delivery_refused(*, channel: Channel) -> None:
    """Note on the channel that a delivery was refused for a wrong signature or key, for its
    page to say so (a wrong secret); at most once a minute, so that a stranger's flood of bad
    deliveries costs one write a minute. Saving the channel's settings clears it."""
    now, noted = clock.now(), channel.refused_at
    if noted is None or now - noted >= REFUSAL_NOTED_EVERY:
        Channel.objects.filter(pk=channel.pk).update(refused_at=now)


def delivery_receive(*, channel: Channel, headers, body: bytes, remote_addr: str) -> Delivery:
    """Store a delivery that passed its provider's signature check (one statement, committed
    before the provider is answered); the worker takes it next."""
    kept = {
        name: value.replace("\x00", "")
        for name, value in headers.items()
        if name.lower() not in SECRET_HEADERS
    }
    delivery = instance(
        Delivery,
        workspace_id=channel.workspace_id,
        channel=channel,
        provider=channel.kind,
        headers=kept,
        body=body,
        remote_addr=_address(remote_addr),
        received_at=clock.now(),
    )
    row_insert(delivery)
    _enqueue_on_commit([delivery.pk])
    return delivery


def _failed(ref: str, error: str, *, retry: bool = False) -> dict:
    return {"ref": ref, "outcome": "failed", "lead": None, "error": error, "retry": retry}


def _captured_leads(workspace: Workspace, provider: str, refs: set[str]) -> dict[str, int]:
    """{provider lead id: LeadLoop lead id} of the refs captured before."""
    keys = {_dedupe_key(key_of(provider, 64), ref): ref for ref in refs}
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT dedupe_key, lead_id FROM {Touch._meta.db_table}"
            f" WHERE workspace_id = %s AND NOT (dedupe_key = '') AND {any_of('dedupe_key')}",
            [workspace.pk, listed(keys)],
        )
        return {keys[key]: lead for key, lead in cursor.fetchall()}


def _fetch(client: httpx.Client, channel: Channel, item: Item) -> Item | GraphError:
    try:
        return graph_lead(client, channel, item)
    except GraphError as exc:
        return exc


def _capture(channel: Channel, provider: Provider, items: list[Item], prior: dict) -> list[dict]:
    """Each item's outcome, in order: known before, fetched and captured, or failed alone."""
    workspace = channel.workspace
    outcomes: list[dict | None] = [None] * len(items)
    known = _captured_leads(workspace, provider.kind, {i.ref for i in items if not i.error})
    todo, first = [], {}
    for n, item in enumerate(items):
        if item.error:
            outcomes[n] = _failed(item.ref, item.error)
        elif item.ref in known:
            seen = {"ref": item.ref, "outcome": "duplicate", "lead": known[item.ref]}
            outcomes[n] = prior.get(item.ref) or seen
        elif item.ref not in first:
            first[item.ref] = n
            todo.append(n)
    needed = [n for n in todo if items[n].answers is None]
    fetch = partial(_fetch, graph_client(), channel)
    if len(needed) > 1:
        with ThreadPoolExecutor(FETCHERS) as pool:
            fetched = list(pool.map(fetch, [items[n] for n in needed]))
    else:
        fetched = [fetch(items[n]) for n in needed]
    for n, result in zip(needed, fetched, strict=True):
        if isinstance(result, GraphError):
            outcomes[n] = _failed(items[n].ref, str(result), retry=result.passing)
    todo = [n for n in todo if outcomes[n] is None]
    results = leads_capture(
        workspace=workspace,
        actor=Actor.system(workspace, f"{provider.kind}:{channel.name}"),
        submissions=[(submission_of(items[n], provider.kind), _raw(items[n])) for n in todo],
        kind=Touch.Kind.WEBHOOK,
        channel=channel,
        on_worker=True,
    )
    for n, result in zip(todo, results, strict=True):
        if isinstance(result, ApplicationError):
            outcomes[n] = _failed(items[n].ref, result.message)
        else:
            outcome = "created" if result.created else "joined"
            outcomes[n] = {"ref": items[n].ref, "outcome": outcome, "lead": result.lead.pk}
    for n, item in enumerate(items):  # the same lead twice in one delivery
        if outcomes[n] is None:
            taken = outcomes[first[item.ref]]
            failed = taken["outcome"] == "failed"
            outcomes[n] = taken if failed else {**taken, "outcome": "duplicate"}
    if forms := {i.form_id for i in items if i.form_id and provider.kind == Channel.Kind.FACEBOOK}:
        FacebookForm.objects.bulk_create(
            [FacebookForm(workspace=workspace, channel=channel, form_id=f) for f in forms],
            ignore_conflicts=True,
        )
    return outcomes


def _raw(item: Item) -> dict:
    return {"lead_id": item.ref, **item.context, "answers": item.answers}


def _items(delivery: Delivery) -> list[Item] | dict:
    """The delivery's leads, or the failure of a body that cannot be read."""
    try:
        return PROVIDERS[delivery.provider].read(parse_json(bytes(delivery.body)))
    except ApplicationError as exc:
        return _failed("", exc.message)


def _outcomes(batch: list[Delivery]) -> list[list[dict]]:
    """Each delivery's outcomes; the leads of all of them captured together."""
    read = [_items(delivery) for delivery in batch]
    items = [item for leads in read if isinstance(leads, list) for item in leads]
    prior = {
        o["ref"]: o
        for delivery in batch
        for o in delivery.outcomes
        if o["outcome"] in ("created", "joined")
    }
    first = batch[0]
    captured = iter(_capture(first.channel, PROVIDERS[first.provider], items, prior))
    return [
        [leads] if isinstance(leads, dict) else [next(captured) for _item in leads]
        for leads in read
    ]


# The worker's reads and writes of the inbox, written by hand: every delivery has its task, and
# compiling these querysets cost the worker more CPU than the database took to answer them.

DELIVERIES = Delivery._meta.db_table
FINISHED = ("status", "attempts", "next_attempt_at", "processed_at", "error", "outcomes")


def _skip_locked() -> str:
    if not connection.features.has_select_for_update_skip_locked:
        return ""
    return " " + connection.ops.for_update_sql(skip_locked=True, of=("d",))


def _still_waiting(delivery_id: int) -> bool:
    """Whether the delivery may need processing, read outside a transaction: most tasks find
    their delivery taken by an earlier task's batch."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {DELIVERIES} WHERE id = %s", [delivery_id])
        row = cursor.fetchone()
    return row is not None and row[0] in (Status.RECEIVED, Status.RETRYING)


def _waiting(delivery_id: int) -> Delivery | None:
    """The delivery, locked, with its channel and workspace, if it waits and nobody has it."""
    found = fetch_joined(
        "SELECT {select} FROM {d} JOIN {c} ON c.id = d.channel_id"
        " JOIN {w} ON w.id = c.workspace_id WHERE d.id = %s AND d.status IN (%s, %s)"
        + _skip_locked(),
        [delivery_id, Status.RECEIVED, Status.RETRYING],
        d=Delivery,
        c=Channel,
        w=Workspace,
    )
    return found[0][0] if found else None


def _db_value(name: str, value):
    return Delivery._meta.get_field(name).get_db_prep_save(value, connection=connection)


@transaction.atomic
def _claim(delivery_id: int) -> list[Delivery]:
    """The delivery and up to BATCH_SIZE - 1 others waiting on its channel, marked as taken by
    this worker; [] when another worker has it or it needs no processing."""
    mine = _waiting(delivery_id)
    if mine is None:
        return []
    waiting = fetch_joined(
        "SELECT {select} FROM {d} WHERE d.channel_id = %s AND d.status = %s AND d.id <> %s"
        " ORDER BY d.received_at, d.id LIMIT %s" + _skip_locked(),
        [mine.channel_id, Status.RECEIVED, mine.pk, BATCH_SIZE - 1],
        d=Delivery,
    )
    batch = [mine, *(delivery for (delivery,) in waiting)]
    for delivery in batch[1:]:
        delivery.channel = mine.channel
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DELIVERIES} SET status = %s, next_attempt_at = %s WHERE {any_of('id')}",
            [
                Status.PROCESSING,
                _db_value("next_attempt_at", clock.now()),
                listed(d.pk for d in batch),
            ],
        )
    return batch


def delivery_process(*, delivery_id: int) -> Delivery | None:
    """One attempt at a waiting delivery, together with the others waiting on its channel; a
    passing failure (the Graph API, the database) is tried again later with backoff, a lead
    that cannot be taken fails alone. The delivery as it was left; None when it was not
    waiting (done, or in another worker's hands)."""
    batch = _claim(delivery_id) if _still_waiting(delivery_id) else []
    if not batch:
        return None
    try:
        outcomes = _outcomes(batch)
    except Exception as exc:  # e.g. the database is away: like an outage, try again later
        log.exception("deliveries %s: attempt failed", [d.pk for d in batch][:20])
        failure = _failed("", f"{type(exc).__name__}: {exc}"[:500], retry=True)
        outcomes = [[*(o for o in d.outcomes if o["outcome"] != "failed"), failure] for d in batch]
    for delivery, found in zip(batch, outcomes, strict=True):
        _finish(delivery, found)
    _save_finished(batch)
    return batch[0]


def _finish(delivery: Delivery, outcomes: list[dict]) -> None:
    delivery.attempts += 1
    failures = [o for o in outcomes if o["outcome"] == "failed"]
    retry = any(o["retry"] for o in failures)
    delivery.next_attempt_at = None
    if retry and delivery.attempts <= len(RETRY_DELAYS):
        delay = RETRY_DELAYS[delivery.attempts - 1]
        delivery.status = Status.RETRYING
        delivery.next_attempt_at = clock.now() + timedelta(seconds=delay)
        transaction.on_commit(partial(_enqueue, delivery.pk, delay))
    elif failures:
        delivery.status = Status.FAILED
    else:
        delivery.status = Status.DONE if outcomes else Status.IGNORED
    delivery.outcomes = outcomes
    delivery.error = failures[0]["error"] if failures else ""
    delivery.processed_at = clock.now()


def _save_finished(batch: list[Delivery]) -> None:
    """Each delivery's status, attempts and outcomes, in one round of statements."""
    sets = ", ".join(f"{name} = %s" for name in FINISHED)
    rows = [[*(_db_value(name, getattr(d, name)) for name in FINISHED), d.pk] for d in batch]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {DELIVERIES} SET {sets} WHERE id = %s", rows)


def _waiting_again(deliveries) -> list[int]:
    ids = list(deliveries.values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(
        status=Status.RECEIVED, attempts=0, next_attempt_at=None, error=""
    )
    _enqueue_on_commit(ids)
    return ids


@transaction.atomic
def delivery_replay(*, workspace: Workspace, actor: Actor, delivery: Delivery) -> None:
    """Process a failed delivery again (its leads captured before stay as they are)."""
    actor.require(actor.administers)
    if delivery.workspace_id != workspace.pk:
        raise NotFound(_("Not found."))
    if delivery.status != Status.FAILED:
        raise Conflict(_("Only a failed delivery can be replayed."), code="not_failed")
    _waiting_again(Delivery.objects.filter(pk=delivery.pk))
    audit_record(actor=actor, action="delivery.replay", obj=delivery)


@transaction.atomic
def deliveries_replay_failed(*, workspace: Workspace, actor: Actor) -> int:
    """Process every failed delivery of the workspace again; returns how many."""
    actor.require(actor.administers)
    failed = Delivery.objects.filter(workspace=workspace, status=Status.FAILED)
    ids = _waiting_again(failed.select_for_update())
    if ids:
        audit_record(
            actor=actor, action="delivery.replay_failed", obj=workspace, data={"count": len(ids)}
        )
    return len(ids)


def deliveries_sweep() -> int:
    """Enqueue again the deliveries whose task was lost (a crash between the commit and the
    queue, a queue that was down or wiped) and forget processed ones after RETENTION."""
    now = clock.now()
    stranded = Delivery.objects.filter(status=Status.PROCESSING, next_attempt_at__lt=now - STALE)
    stranded_ids = list(stranded.values_list("pk", flat=True)[:1000])
    # their worker died mid-batch: processing them again is harmless (leads are never made twice)
    Delivery.objects.filter(pk__in=stranded_ids).update(status=Status.RECEIVED)
    lost = Delivery.objects.filter(
        Q(status=Status.RECEIVED, received_at__lt=now - STALE)
        | Q(status=Status.RETRYING, next_attempt_at__lt=now - STALE)
    ).exclude(pk__in=stranded_ids)
    ids = stranded_ids + list(lost.values_list("pk", flat=True)[:1000])
    for delivery_id in ids:
        _enqueue(delivery_id)
    done = (Status.DONE, Status.IGNORED)
    Delivery.objects.filter(status__in=done, received_at__lt=now - RETENTION).delete()
    return len(ids)


@dataclass
class FormReconciled:
    form_id: str
    counts: Counter = field(default_factory=Counter)
    error: str = ""


def facebook_reconcile(
    *, workspace: Workspace, actor: Actor, form_id: str = ""
) -> list[FormReconciled]:
    """Read the leads of one form (or of every form seen) from the Graph API since the last
    reconciliation and capture the missing ones: for outages longer than Facebook's retries."""
    actor.require(actor.administers)
    channel = Channel.objects.filter(
        workspace=workspace, kind=Channel.Kind.FACEBOOK, active=True
    ).first()
    if channel is None:
        raise NotFound(_("This workspace has no Facebook channel."))
    channel.workspace = workspace
    forms = [form_id] if form_id else list(channel.facebook_forms.values_list("form_id", flat=True))
    return [_reconcile_form(graph_client(), channel, form) for form in forms]


def _reconcile_form(client: httpx.Client, channel: Channel, form_id: str) -> FormReconciled:
    state, _created = FacebookForm.objects.get_or_create(
        workspace=channel.workspace, channel=channel, form_id=form_id
    )
    started = clock.now()
    since = int(state.synced_until.timestamp()) - RECONCILE_MARGIN if state.synced_until else None
    done = FormReconciled(form_id)
    provider = PROVIDERS[Channel.Kind.FACEBOOK]
    try:
        for page in graph_form_leads(client, channel, form_id, since):
            done.counts.update(o["outcome"] for o in _capture(channel, provider, page, {}))
    except GraphError as exc:  # kept where it was: the next run reads the same leads again
        done.error = str(exc)
        return done
    FacebookForm.objects.filter(pk=state.pk).update(synced_until=started)
    return done
