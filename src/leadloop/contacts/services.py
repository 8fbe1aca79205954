from dataclasses import dataclass

from leadloop.contacts.models import Contact
from leadloop.contacts.normalize import (
    Phone,
    fold,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from leadloop.contacts.normalize import quality_issues as _quality_issues
from leadloop.core import clock
from leadloop.core.models import Workspace


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


def contacts_matching(*, workspace: Workspace, who: list[Identity]) -> list[Contact]:
    """The contacts whose valid phone or valid e-mail is among the submissions'."""
    phones = {w.phone.e164 for w in who if w.phone.valid}
    emails = {w.email for w in who if w.email_valid}
    found = {}
    for chunk in _chunks(sorted(phones)):
        for contact in Contact.objects.filter(
            workspace=workspace, phone_valid=True, phone_e164__in=chunk
        ):
            found[contact.pk] = contact
    for chunk in _chunks(sorted(emails)):
        for contact in Contact.objects.filter(
            workspace=workspace, email_valid=True, email__in=chunk
        ):
            found[contact.pk] = contact
    return list(found.values())


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def contact_new(*, workspace: Workspace, who: Identity) -> Contact:
    """An unsaved contact for a submission that matched nobody."""
    return Contact(
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
        stored = Identity(
            contact.full_name,
            normalize_phone(contact.phone_raw),
            contact.email,
            contact.email_valid,
        )
        contact.search_key = stored.search_key()
        changed.add("search_key")
    return changed
