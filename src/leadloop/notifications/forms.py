from django import forms
from django.utils.translation import gettext_lazy as _


class PreferencesForm(forms.Form):
    email_notifications = forms.BooleanField(
        label=_("Also send me every notification by e-mail"), required=False
    )
