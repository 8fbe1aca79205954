from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.activities.models import Outcome


class CallForm(forms.Form):
    """A call: one of the quick outcome buttons, how long it took, what was said."""

    prefix = "call"

    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", _("No outcome")), *Outcome.choices]
    )
    minutes = forms.IntegerField(
        label=_("Minutes"),
        required=False,
        min_value=0,
        max_value=1440,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    body = forms.CharField(
        label=_("What was said"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    callback_at = forms.DateTimeField(  # in the workspace's time zone (the middleware's)
        label=_("Call back at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("When the person asked to be called back: the next attempt is due then."),
    )

    def activity(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": "call",
            "outcome": data["outcome"],
            "body": data["body"],
            "duration_s": (data["minutes"] or 0) * 60,
            "callback_at": data["callback_at"],
        }


class NoteForm(forms.Form):
    prefix = "note"
    body = forms.CharField(
        label=_("Note"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def activity(self) -> dict:
        return {"kind": "note", "body": self.cleaned_data["body"]}
