from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.contacts.models import Contact
from leadloop.contacts.services import MERGE_FIELDS

FIELD_LABELS = {"full_name": _("Name"), "phone": _("Phone"), "email": _("E-mail")}
EMPTY = "—"


def _shown(contact: Contact, field: str) -> str:
    value = {"full_name": contact.full_name, "phone": contact.phone_raw, "email": contact.email}
    return f"#{contact.pk}: {value[field] or EMPTY}"


class MergeForm(forms.Form):
    """Per field, the contact whose value survives (radio buttons showing both values)."""

    def __init__(self, data, *, gone: Contact, survivor: Contact):
        super().__init__(data)
        for name in MERGE_FIELDS:
            self.fields[name] = forms.TypedChoiceField(
                label=FIELD_LABELS[name],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
                choices=[(c.pk, _shown(c, name)) for c in (survivor, gone)],
            )

    def choices(self) -> dict:
        return {name: pk for name, pk in self.cleaned_data.items() if pk is not None}
