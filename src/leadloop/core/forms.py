from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from leadloop.core.models import Role, Team
from leadloop.pipeline.models import Category


def _team_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)


class _MemberFields(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALES)
    team = _team_field()
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, team_choices: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("No team")), *team_choices]


def capacity_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Capacity (open leads)"),
        min_value=0,
        max_value=100_000,
        initial=0,
        help_text=_("0: no limit"),
    )


class MemberCreateForm(_MemberFields):
    prefix = "new-member"
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    capacity = capacity_field()
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Only for a person new to LeadLoop; leave empty and they cannot log in yet."),
    )
    field_order = ["email", "full_name", "role", "team", "capacity", "active", "password"]

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if password:
            password_validation.validate_password(password)
        return password


class MemberUpdateForm(_MemberFields):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Browser's language")), *settings.LANGUAGES],
    )


class TeamForm(forms.Form):
    prefix = "team"
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Team.Kind.choices)


class TeamRenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class StageCreateForm(forms.Form):
    prefix = "new-stage"
    name_vi = forms.CharField(label=_("Name (Vietnamese)"), max_length=100)
    name_en = forms.CharField(label=_("Name (English)"), max_length=100, required=False)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)


class StageUpdateForm(StageCreateForm):
    archived = forms.BooleanField(label=_("Archived"), required=False)
    pauses_sla = forms.BooleanField(
        label=_("Pauses the SLA"),
        required=False,
        help_text=_("While a lead is here (e.g. call back later), it is not reassigned as idle."),
    )


class TokenForm(forms.Form):
    prefix = "token"
    name = forms.CharField(label=_("Name"), max_length=100)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MARKETER)
    member = forms.ModelChoiceField(
        label=_("Acts as member"),
        required=False,
        queryset=None,
        empty_label=_("Nobody (an integration)"),
    )
    once = forms.CharField(widget=forms.HiddenInput, max_length=32)  # see core.views._token_form

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members.filter(active=True)  # not for one who left
