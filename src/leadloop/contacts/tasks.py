from functools import partial

from django.db import transaction
from huey.contrib.djhuey import db_task

from leadloop.contacts.models import Contact
from leadloop.contacts.services import duplicates_find
from leadloop.core.models import Workspace


@db_task(retries=2, retry_delay=30)
def find_duplicates(workspace_id: int, contact_ids: list[int]) -> int:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    contacts = list(Contact.objects.filter(workspace=workspace, pk__in=contact_ids))
    return duplicates_find(workspace=workspace, contacts=contacts) if contacts else 0


def duplicates_check_soon(*, workspace: Workspace, contact_ids: list[int]) -> None:
    """Look for fuzzy duplicates of new contacts on the worker, once the capture committed."""
    if contact_ids:
        transaction.on_commit(partial(find_duplicates, workspace.pk, sorted(set(contact_ids))))
