from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.intake.models import Channel
from leadloop.intake.services import SECRETS

LABELS = {
    "verify_token": _("Verify token"),
    "app_secret": _("App secret"),
    "page_access_token": _("Page access token"),
    "google_key": _("Google key"),
    "app_id": _("App ID"),
    "oa_secret_key": _("OA secret key"),
    "allowed_origins": _("Websites allowed to post (one origin per line)"),
    "redirect_url": _("Page to show after sending (optional)"),
    "consent_text": _("Consent text (a required checkbox when filled)"),
    "rate_limit": _("Submissions per minute from one address"),
}
FIELDS = {  # the settings each kind of channel takes, in the order they are shown
    "facebook": ["verify_token", "app_secret", "page_access_token"],
    "google": ["google_key"],
    "tiktok": ["app_secret"],
    "zalo": ["app_id", "oa_secret_key"],
    "form": ["allowed_origins", "redirect_url", "consent_text", "rate_limit"],
}


class ChannelCreateForm(forms.Form):
    prefix = "new-channel"
    kind = forms.ChoiceField(label=_("Kind"), choices=Channel.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=100)


class ChannelForm(forms.Form):
    """A channel's name, status and the settings of its kind; secrets are never shown back."""

    name = forms.CharField(label=_("Name"), max_length=100)
    active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args, channel: Channel, **kwargs):
        initial = {"name": channel.name, "active": channel.active}
        for key in FIELDS[channel.kind]:
            value = channel.settings.get(key, "")
            initial[key] = "" if key in SECRETS else _as_text(value)
        super().__init__(*args, initial=initial, **kwargs)
        for key in FIELDS[channel.kind]:
            self.fields[key] = _setting_field(key, is_set=bool(channel.settings.get(key)))

    def settings(self) -> dict:
        data = self.cleaned_data
        out = {key: data[key] for key in self.fields if key not in ("name", "active")}
        if "allowed_origins" in out:
            out["allowed_origins"] = out["allowed_origins"].split()
        if out.get("rate_limit") is not None:
            out["rate_limit"] = str(out["rate_limit"])
        return out


def _as_text(value) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value)


def _setting_field(key: str, *, is_set: bool) -> forms.Field:
    label = LABELS[key]
    if key in SECRETS:
        hint = _("Set; leave empty to keep it.") if is_set else _("Not set yet.")
        return forms.CharField(
            label=label,
            required=False,
            max_length=2000,
            help_text=hint,
            widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        )
    if key == "rate_limit":
        return forms.IntegerField(label=label, required=False, min_value=1, max_value=1000)
    if key == "redirect_url":
        return forms.URLField(label=label, required=False, max_length=2000, assume_scheme="https")
    return forms.CharField(
        label=label, required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
