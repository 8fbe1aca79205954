from dataclasses import dataclass

from django.db import IntegrityError, transaction

from leadloop.contacts.models import Contact, PossibleDuplicate
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


def _matches(workspace: Workspace, who: Identity) -> tuple[Contact | None, Contact | None]:
    by_phone = by_email = None
    if who.phone.valid:
        by_phone = Contact.objects.filter(
            workspace=workspace, phone_valid=True, phone_e164=who.phone.e164
        ).first()
    if who.email_valid:
        by_email = Contact.objects.filter(
            workspace=workspace, email_valid=True, email=who.email
        ).first()
    return by_phone, by_email


def _fill_gaps(contact: Contact, who: Identity, email_taken: bool) -> None:
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
    if changed:
        contact.search_key = Identity(
            contact.full_name,
            normalize_phone(contact.phone_raw),
            contact.email,
            contact.email_valid,
        ).search_key()
        try:
            with transaction.atomic():
                contact.save(update_fields=[*changed, "search_key"])
        except IntegrityError:  # another submission claimed that phone or e-mail meanwhile
            contact.refresh_from_db()


def _create(workspace: Workspace, who: Identity) -> Contact:
    return Contact.objects.create(
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


def contact_resolve(*, workspace: Workspace, who: Identity) -> tuple[Contact, bool]:
    """Find the submission's contact or create it; returns (contact, created).

    The phone wins over the e-mail; when they point to different contacts the pair is flagged.
    A concurrent creation of the same phone or e-mail loses on the unique constraint and retries.
    """
    for _attempt in range(3):
        by_phone, by_email = _matches(workspace, who)
        if by_phone and by_email and by_phone.pk != by_email.pk:
            PossibleDuplicate.objects.get_or_create(
                contact=by_phone,
                other=by_email,
                defaults={
                    "workspace": workspace,
                    "reason": "phone_email_split",
                    "created_at": clock.now(),
                },
            )
        found = by_phone or by_email
        if found:
            _fill_gaps(found, who, email_taken=by_email is not None and by_email != found)
            return found, False
        try:
            with transaction.atomic():
                return _create(workspace, who), True
        except IntegrityError:
            continue
    raise RuntimeError("contact_resolve: could not settle a concurrent creation")
