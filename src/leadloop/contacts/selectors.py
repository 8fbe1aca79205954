from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from leadloop.contacts.models import Contact, ContactMerge, PossibleDuplicate
from leadloop.core.access import Actor
from leadloop.core.errors import NotFound
from leadloop.core.models import Role, Workspace
from leadloop.pipeline.models import Lead


class Merged(NotFound):
    """A merged-away contact: 404 with code `merged` and the survivor's id."""

    code = "merged"

    def __init__(self, message: str, *, merged_into: int):
        super().__init__(message)
        self.merged_into = merged_into

    def as_dict(self) -> dict:
        body = super().as_dict()
        body["error"]["merged_into"] = self.merged_into
        return body


def contact_missing(*, workspace: Workspace, contact_id: int) -> NotFound:
    """The error for a contact id that is not (or no longer) there."""
    merge = ContactMerge.objects.filter(workspace=workspace, merged_id=contact_id).first()
    if merge is not None:
        return Merged(
            _("This contact was merged into contact #%(id)s.") % {"id": merge.into_id},
            merged_into=merge.into_id,
        )
    return NotFound(_("Contact not found."))


def contact_get(*, workspace: Workspace, fetched_by: Actor, contact_id: int) -> Contact:
    """A contact of the workspace; a sales rep sees only the contacts of their own leads."""
    contact = Contact.objects.filter(workspace=workspace, pk=contact_id).first()
    if contact is not None and not fetched_by.sees_all_leads:
        owns = Lead.objects.filter(contact=contact, owner_id=fetched_by.member_id)
        contact = contact if fetched_by.member and owns.exists() else None
    if contact is None:
        raise contact_missing(workspace=workspace, contact_id=contact_id)
    return contact


def duplicate_list(
    *, workspace: Workspace, fetched_by: Actor, status: str = PossibleDuplicate.Status.OPEN
) -> QuerySet[PossibleDuplicate]:
    """The review queue (managers and admins only), likeliest pairs first."""
    fetched_by.require(fetched_by.role in (Role.ADMIN, Role.MANAGER))
    return (
        PossibleDuplicate.objects.filter(workspace=workspace, status=status)
        .select_related("contact", "other")
        .order_by("-score", "-id")
    )


def duplicates_of(*, workspace: Workspace, fetched_by: Actor, contact: Contact):
    """The open pairs one contact is in (the lead page's box)."""
    return duplicate_list(workspace=workspace, fetched_by=fetched_by).filter(
        Q(contact=contact) | Q(other=contact)
    )


def flagged(contact_ref: str = "contact_id") -> Exists:
    """True for rows whose contact is in an open possible-duplicate pair (reports' filter)."""
    pairs = PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN)
    return Exists(pairs.filter(contact_id=OuterRef(contact_ref))) | Exists(
        pairs.filter(other_id=OuterRef(contact_ref))
    )
