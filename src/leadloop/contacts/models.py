from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadloop.core.models import Member, Workspace, settings_ref


class Contact(models.Model):
    """A person, de-duplicated by valid normalised phone and valid e-mail within a workspace."""

    workspace = settings_ref(Workspace, models.CASCADE, related_name="contacts")
    full_name = models.CharField(max_length=200, blank=True)
    phone_raw = models.CharField(max_length=64, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True)
    phone_valid = models.BooleanField(default=False)
    email = models.CharField(max_length=254, blank=True)
    email_valid = models.BooleanField(default=False)
    search_key = models.CharField(max_length=600, blank=True)
    # Blocking keys of the fuzzy duplicate finder (contacts.duplicates): two numbers one digit
    # apart share their head or their tail; two addresses at other domains share the local part.
    phone_head = models.CharField(max_length=16, blank=True)
    phone_tail = models.CharField(max_length=4, blank=True)
    email_local = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "phone_e164"],
                condition=Q(phone_valid=True),
                name="contact_unique_valid_phone",
            ),
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=Q(email_valid=True),
                name="contact_unique_valid_email",
            ),
        ]
        indexes = [  # a contact is found by its phone through contact_unique_valid_phone
            models.Index(fields=["workspace", "phone_head"], name="contact_phone_head"),
            models.Index(fields=["workspace", "phone_tail"], name="contact_phone_tail"),
            models.Index(fields=["workspace", "email_local"], name="contact_email_local"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.phone_e164 or self.email

    @property
    def label(self) -> str:
        """How messages name the person: the name, else the phone as given, else the e-mail."""
        return self.full_name or self.phone_raw or self.email


class PossibleDuplicate(models.Model):
    """Two contacts that may be one person: a submission linked both (its phone to one, its
    e-mail to the other), or the fuzzy finder saw them close. A dismissed pair never returns."""

    class Status(models.TextChoices):
        OPEN = "open", _("To review")
        DISMISSED = "dismissed", _("Not a duplicate")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=64)
    score = models.PositiveSmallIntegerField(default=100)  # 0-100, higher is likelier
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "other"], name="possible_duplicate_pair")
        ]
        indexes = [models.Index(fields=["workspace", "status", "score"])]


class ContactMerge(models.Model):
    """A contact merged away: its id answers with a pointer to the survivor."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    merged_id = models.BigIntegerField()
    into = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "merged_id"], name="contact_merge_once")
        ]
