import logging
from functools import partial

from django.db import transaction
from huey.contrib.djhuey import db_task

from leadloop.contacts.models import Contact
from leadloop.contacts.services import duplicates_find
from leadloop.core.models import Workspace

log = logging.getLogger(__name__)


@db_task(retries=2, retry_delay=30)
def find_duplicates(workspace_id: int, contact_ids: list[int]) -> int:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    contacts = list(Contact.objects.filter(workspace=workspace, pk__in=contact_ids))
    return duplicates_find(workspace=workspace, contacts=contacts) if contacts else 0


def duplicates_check_soon(
    *, workspace: Workspace, contacts: list[Contact], on_worker: bool = False
) -> None:
    """Look for fuzzy duplicates of new contacts once the capture committed: in a task on the
    worker or, when the caller is the worker already (`on_worker`), at once in this process,
    which saves the task, its queue round trips and reading the contacts again. Should that
    fail, the task is queued instead."""
    if not contacts:
        return
    if on_worker:
        transaction.on_commit(partial(_find_here, workspace, contacts))
    else:
        transaction.on_commit(partial(find_duplicates, workspace.pk, _ids(contacts)))


def _find_here(workspace: Workspace, contacts: list[Contact]) -> None:
    try:
        duplicates_find(workspace=workspace, contacts=contacts)
    except Exception:
        log.exception("duplicate check of %s failed; queued as a task", _ids(contacts)[:20])
        try:
            find_duplicates(workspace.pk, _ids(contacts))
        except Exception:  # the queue is down too: a scan (`leadloop duplicates scan`) finds them
            log.exception("could not queue the duplicate check of %s", _ids(contacts)[:20])


def _ids(contacts: list[Contact]) -> list[int]:
    return sorted({contact.pk for contact in contacts})
