import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.bulk import instance
from leadloop.core.models import Member, Workspace
from leadloop.core.services import audit_record
from leadloop.notifications.models import Notification
from leadloop.notifications.push import announce
from leadloop.pipeline.models import Lead

log = logging.getLogger(__name__)


def written_in(member: Member, workspace: Workspace) -> str:
    """The language of what is written for a member: the one they chose, else the one their
    pages were last shown in (a member of "the browser's language"), else the workspace's."""
    return member.language or member.reading_language or workspace.language


def reading_language_note(*, member: Member, language: str) -> None:
    """Note the language the member's pages are now shown in (`written_in` follows it); a
    write only when it changed, and only of a language LeadLoop speaks."""
    if language == member.reading_language or language not in dict(settings.LANGUAGES):
        return
    member.reading_language = language
    Member.objects.filter(pk=member.pk).update(reading_language=language)


def notification_new(
    *,
    member: Member,
    kind: str,
    lead: Lead | None,
    message: str,
    params: dict | None = None,
    count: int = 1,
):
    """An unsaved notification standing for `count` leads; callers save it, alone or in bulk.

    `message` (a lazy translation, with `%(name)s` placeholders filled from `params`) is written
    in the member's language (`written_in`), whichever process makes it."""
    workspace = lead.workspace if lead is not None else member.workspace
    with translation.override(written_in(member, workspace)):
        message = message % params if params else str(message)  # % picks a plural by count
    return instance(
        Notification,
        workspace_id=member.workspace_id,
        member=member,
        kind=kind,
        lead=lead,
        message=message[:300],
        count=count,
        created_at=clock.now(),
    )


DIGEST_AFTER = 3  # more alerts of one kind for one member at once come as one summary
DIGEST_WINDOW = timedelta(hours=1)  # while unread, a summary this recent counts later alerts
SUMMARIES = {
    "sla_breach": gettext_lazy("%(count)s SLA misses on open leads, the latest on lead #%(id)s"),
    "lead_unassigned": gettext_lazy(
        "%(count)s leads are waiting with no rep who can take them, the latest #%(id)s"
    ),
    "lead_assigned": gettext_lazy("%(count)s leads given to you, the latest #%(id)s"),
    "lead_reassigned": gettext_lazy(
        "%(count)s of your leads moved to other reps, the latest #%(id)s"
    ),
}


def notification_link(note: Notification) -> tuple[str, str]:
    """Where a notification leads and what that is: its lead ("lead"; a summary names its
    latest), or the member's queue for the leads an import gave them ("queue"); ("", "") when
    nowhere."""
    if note.kind == "leads_imported":
        return reverse("queue"), "queue"
    if note.lead_id:
        return reverse("lead-detail", args=[note.lead_id]), "lead"
    return "", ""


# Kinds whose later alerts are counted in an unread summary silently. Leads given to a rep always
# make a new row: its arrival is what refreshes the rep's open queue page.
FOLDED = {"sla_breach", "lead_unassigned", "lead_reassigned"}


def notifications_digest(notes: list[Notification]) -> None:
    """Save and publish the SLA worker's unsaved notifications without flooding anyone.

    A member's notifications of one kind beyond DIGEST_AFTER at once, or (for the FOLDED kinds)
    while an unread summary of that kind from the last DIGEST_WINDOW exists, are counted in that
    summary: one row, one toast, one e-mail (a backlog of 100,000 missed first calls after an
    import would otherwise be as many of each for every manager). Runs in the caller's
    transaction.
    """
    groups: dict[tuple[int, str], list[Notification]] = {}
    for note in notes:
        groups.setdefault((note.member_id, note.kind), []).append(note)
    open_summaries = _open_summaries(groups)
    new = []
    for key, group in groups.items():
        summary = open_summaries.get(key)
        if summary is not None:
            _fold(summary, group)
        elif len(group) <= DIGEST_AFTER:
            new += group
        else:
            new.append(_summary(group[-1], len(group)))
    notifications_publish(Notification.objects.bulk_create(new))


def _open_summaries(groups: dict) -> dict[tuple[int, str], Notification]:
    if not groups:
        return {}
    recent = Notification.objects.select_for_update().filter(
        member_id__in={member for member, _kind in groups},
        kind__in={kind for _member, kind in groups} & FOLDED,
        count__gt=1,
        read_at__isnull=True,
        created_at__gte=clock.now() - DIGEST_WINDOW,
    )
    return {(n.member_id, n.kind): n for n in recent.order_by("created_at", "id")}


def _summary(latest: Notification, count: int) -> Notification:
    return notification_new(
        member=latest.member,
        kind=latest.kind,
        lead=latest.lead,
        message=SUMMARIES[latest.kind],
        params={"count": count, "id": latest.lead_id},
        count=count,
    )


def _fold(summary: Notification, group: list[Notification]) -> None:
    fresh = _summary(group[-1], summary.count + len(group))
    summary.message, summary.count, summary.lead = fresh.message, fresh.count, fresh.lead
    summary.save(update_fields=["message", "count", "lead"])


def notifications_mark_read(
    *, member: Member, up_to: int | None = None, seen: dict[int, int] | None = None
) -> int:
    """Mark the member's unread notifications read; with `up_to`, only those up to that id (the
    newest one a page showed: later ones stay unread), and of the summaries a page showed
    (`seen`: {id: count}) only those that counted no more alerts since."""
    unread = Notification.objects.filter(member=member, read_at__isnull=True)
    if up_to is not None:
        unread = unread.filter(pk__lte=up_to)
    for pk, count in (seen or {}).items():
        unread = unread.exclude(pk=pk, count__gt=count)
    return unread.update(read_at=clock.now())


def notifications_publish(notifications: list[Notification]) -> None:
    """After the commit, wake the open event streams of the members these saved rows are for,
    and have the worker e-mail the ones whose member asked for e-mail."""
    announced: dict[int, list[int]] = {}
    for note in notifications:  # a row without an id (none yet) makes its streams read all
        announced.setdefault(note.member_id, []).extend([note.pk] if note.pk else [])
    if announced:
        transaction.on_commit(partial(announce, announced))
    emailed = [n.pk for n in notifications if n.member.email_notifications]
    if emailed:
        transaction.on_commit(partial(_email_soon, emailed))


def _email_soon(notification_ids: list[int]) -> None:
    from leadloop.notifications.tasks import notifications_email_task  # tasks import this module

    try:
        notifications_email_task(notification_ids)
    except Exception:  # the queue is down: the notification is still shown in the app
        log.exception("could not enqueue e-mail for notifications %s", notification_ids[:20])


@transaction.atomic
def notification_preferences_update(*, member: Member, actor: Actor, email: bool) -> Member:
    actor.require(actor.member_id == member.pk, _("Members choose their own notifications."))
    member.email_notifications = email
    member.save(update_fields=["email_notifications"])
    audit_record(actor=actor, action="member.notifications", obj=member, data={"email": email})
    return member


def _absolute(path: str) -> str:
    """A link for an e-mail; none when LEADLOOP_BASE_URL does not say where LeadLoop is."""
    return f"{settings.LEADLOOP_BASE_URL}{path}" if settings.LEADLOOP_BASE_URL else ""


def _email_of(note: Notification, mail) -> EmailMessage:
    member = note.member
    path, opens = notification_link(note)
    with translation.override(written_in(member, member.workspace)):
        subject = _("LeadLoop: %(message)s") % {"message": note.message}
        body = render_to_string(
            "notifications/email.txt",
            {
                "note": note,
                "member": member,
                "link": _absolute(path) if path else "",
                "opens": opens,
                "profile_url": _absolute(reverse("profile")),
            },
        )
    return EmailMessage(
        subject=" ".join(subject.split())[:200], body=body, to=[member.email], connection=mail
    )


def notifications_email(*, notification_ids: list[int]) -> int:
    """E-mail those of these notifications whose member wants e-mail; each at most once.

    A notification is claimed (`emailed_at`) before it is sent and released when sending fails,
    so a task that runs twice, or is retried after a failure, sends nothing twice.
    """
    notes = list(
        Notification.objects.filter(
            pk__in=notification_ids,
            emailed_at__isnull=True,
            member__email_notifications=True,
            member__active=True,
        )
        .exclude(member__user__email="")
        .select_related("member__user", "member__workspace")
        .order_by("id")
    )
    if not notes:
        return 0
    sent = 0
    with get_connection() as mail:
        for note in notes:
            unclaimed = Notification.objects.filter(pk=note.pk, emailed_at__isnull=True)
            if not unclaimed.update(emailed_at=clock.now()):
                continue  # another run has it
            try:
                _email_of(note, mail).send()
            except Exception:
                Notification.objects.filter(pk=note.pk).update(emailed_at=None)
                raise
            sent += 1
    return sent
