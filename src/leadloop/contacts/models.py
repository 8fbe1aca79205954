from django.db import models
from django.db.models import Q

from leadloop.core.models import Workspace


class Contact(models.Model):
    """A person, de-duplicated by valid normalised phone and valid e-mail within a workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts")
    full_name = models.CharField(max_length=200, blank=True)
    phone_raw = models.CharField(max_length=64, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True)
    phone_valid = models.BooleanField(default=False)
    email = models.CharField(max_length=254, blank=True)
    email_valid = models.BooleanField(default=False)
    search_key = models.CharField(max_length=600, blank=True)
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
        indexes = [models.Index(fields=["workspace", "phone_e164"])]

    def __str__(self) -> str:
        return self.full_name or self.phone_e164 or self.email


class PossibleDuplicate(models.Model):
    """Two contacts that one submission linked (its phone to one, its e-mail to the other)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "other"], name="possible_duplicate_pair")
        ]
