from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class EmailLoginForm(AuthenticationForm):
    """Sign in with the e-mail address, which is the username."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "The e-mail address or the password is wrong (the password is case-sensitive)."
        ),
    }
    username = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class DateInput(forms.DateInput):
    """The browser's date picker; its value is always ISO (yyyy-mm-dd)."""

    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


def keyed_choices(items, everything: str) -> list[tuple[str, str]]:
    """Select options for records with a key and a name, after an "all of them" option."""
    return [("", everything), *((item.key, item.name) for item in items)]
