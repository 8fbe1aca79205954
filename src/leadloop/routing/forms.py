"""Routing settings as friendly text; a form's cleaned data is its service's arguments."""

import re
from datetime import date, datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.contacts.normalize import fold
from leadloop.core.forms import capacity_field
from leadloop.routing.hours import hours_errors, parse_hhmm
from leadloop.routing.models import Policy, Rule, Strategy
from leadloop.routing.sla import CADENCE_STEPS, cadence_errors

WEEKDAYS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)
DAY_FIELDS = [f"hours_{day}" for day in range(7)]
CONDITION_FIELDS = ("sources", "campaigns", "channels", "languages", "field_conditions")


def _items(text: str) -> list[str]:
    """'facebook, google' (or one per line) → ['facebook', 'google']."""
    return [item.strip() for item in re.split(r"[,;\n]", text or "") if item.strip()]


NEXT_MORNING = {"next morning", "sang mai", "sang hom sau"}  # folded, as people write it


def _next_morning(step: str) -> str:
    return "next_morning" if fold(step).replace("_", " ") in NEXT_MORNING else step


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _pairs(text: str) -> list[tuple[str, str]] | None:
    """'name = value' lines as pairs; None when a line has no name or no '='."""
    pairs = []
    for line in _lines(text):
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            return None
        pairs.append((name.strip(), value.strip()))
    return pairs


class WeekHoursForm(forms.Form):
    """Hours per weekday as text (`08:00-12:00, 13:30-17:30`, blank: closed), or `always`."""

    always = forms.BooleanField(required=False)
    nothing_open = ""  # the error when no day has hours and `always` is not ticked

    def __init__(self, *args, hours: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("always", not hours)
        for day, name in enumerate(DAY_FIELDS):
            self.fields[name] = forms.CharField(label=WEEKDAYS[day], required=False, max_length=200)
            spans = hours.get(str(day), [])
            self.initial.setdefault(name, ", ".join(f"{start}-{end}" for start, end in spans))
        week = ("always", *DAY_FIELDS)  # shown after the form's own fields
        self.order_fields([*(name for name in self.fields if name not in week), *week])

    def hours(self) -> dict:
        """The hours in the services' shape ({} when `always`); errors go on the days."""
        if self.cleaned_data.get("always"):
            return {}
        week = {}
        for day, name in enumerate(DAY_FIELDS):
            spans = [
                part.replace("–", "-").split("-") for part in _items(self.cleaned_data.get(name))
            ]
            if hours_errors({str(day): spans}):
                self.add_error(name, _spans_error(spans))
            elif spans:
                week[str(day)] = [[start.strip(), end.strip()] for start, end in spans]
        if not week and not self.errors:
            self.add_error(None, self.nothing_open)
        return week


def _spans_error(spans: list[list[str]]) -> str:
    """Why a day's opening hours are refused, in words a shop owner acts on."""
    read = [[parse_hhmm(t) for t in span] if len(span) == 2 else [None] for span in spans]
    if any(None in times for times in read):
        return _("Write times like 08:00-12:00, 13:30-17:30.")
    if any(start >= end for start, end in read):
        return _(
            "A span ends before it starts: write a night shift as two, 17:00-24:00 on one day "
            "and 00:00-08:00 on the next."
        )
    return _("The spans overlap: write each hour once, e.g. 08:00-12:00, 13:00-17:00.")


class PolicyForm(WeekHoursForm):
    CALENDAR = ("always", *DAY_FIELDS, "holidays")  # the fields shown under "Business hours"
    always = forms.BooleanField(label=_("Open 24/7"), required=False)
    nothing_open = _("Give the opening hours of at least one day, or tick Open 24/7.")
    holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One date per line, like 2027-02-16 or 16/02/2027: closed all day."),
    )
    return_to_owner = forms.BooleanField(
        label=_("A returning contact goes back to their previous rep"),
        required=False,
        help_text=_("When that rep can take a lead now; otherwise the rules decide."),
    )
    assign_minutes = forms.IntegerField(
        label=_("Minutes to assign a lead"), min_value=1, max_value=100_000
    )
    first_contact_minutes = forms.IntegerField(
        label=_("Minutes to the first contact"),
        min_value=1,
        max_value=100_000,
        help_text=_("Business minutes after the lead is assigned."),
    )
    attempt_cadence = forms.CharField(
        label=_("Call attempt cadence"),
        required=False,
        max_length=500,
        help_text=_(
            "The wait before each new attempt after a call that did not reach the person: "
            "30m, 2h, 1d or next_morning, separated by commas."
        ),
    )
    not_reached_stage = forms.ChoiceField(label=_("Stage after the last attempt"), required=False)
    idle_hours = forms.IntegerField(
        label=_("Hours before an untouched lead moves to another rep"),
        min_value=0,
        max_value=10_000,
        help_text=_("Business hours; 0: never."),
    )
    journey_days = forms.IntegerField(
        label=_("Days a care journey lasts"),
        min_value=0,
        max_value=3650,
        help_text=_("0: journeys do not end by time."),
    )
    journey_end_stage = forms.ChoiceField(label=_("Stage when the journey ends"), required=False)

    def __init__(self, *args, policy: Policy, stages, **kwargs):
        initial = {
            "holidays": "\n".join(f"{date.fromisoformat(day):%d/%m/%Y}" for day in policy.holidays),
            "return_to_owner": policy.return_to_owner,
            "assign_minutes": policy.assign_minutes,
            "first_contact_minutes": policy.first_contact_minutes,
            "attempt_cadence": ", ".join(policy.attempt_cadence),
            "not_reached_stage": policy.not_reached_stage.key if policy.not_reached_stage else "",
            "idle_hours": policy.idle_hours,
            "journey_days": policy.journey_days,
            "journey_end_stage": policy.journey_end_stage.key if policy.journey_end_stage else "",
        }
        super().__init__(*args, hours=policy.business_hours, initial=initial, **kwargs)
        choices = [("", _("None")), *((s.key, s.name) for s in stages)]
        for name in ("not_reached_stage", "journey_end_stage"):
            chosen = getattr(policy, name)
            if chosen and chosen.archived:  # kept until someone picks another
                label = _("%(stage)s (archived)") % {"stage": chosen.name}
                self.fields[name].choices = [*choices, (chosen.key, label)]
            else:
                self.fields[name].choices = choices

    def calendar_fields(self) -> list:
        return [self[name] for name in self.CALENDAR]

    def care_fields(self) -> list:
        return [field for field in self if field.name not in self.CALENDAR]

    def clean_holidays(self) -> list[str]:
        days = []
        for line in _lines(self.cleaned_data["holidays"]):
            try:
                day = datetime.strptime(line, "%d/%m/%Y").date() if "/" in line else None
                days.append((day or date.fromisoformat(line)).isoformat())
            except ValueError:
                raise forms.ValidationError(
                    _("%(line)s is not a date like 16/02/2027 or 2027-02-16.") % {"line": line[:40]}
                ) from None
        return days

    def clean_attempt_cadence(self) -> str:
        """Checked here too, so that its error shows with the others of the form; "sáng mai"
        (or "sáng hôm sau", "next morning") is next_morning."""
        steps = [_next_morning(step) for step in _items(self.cleaned_data["attempt_cadence"])]
        if len(steps) > CADENCE_STEPS:
            raise forms.ValidationError(_("At most %(n)s delays.") % {"n": CADENCE_STEPS})
        if wrong := [step for step in steps if cadence_errors([step])]:
            raise forms.ValidationError(
                _("%(step)s is not a delay: write 30m, 2h, 1d or next_morning.")
                % {"step": wrong[0][:40]}
            )
        return ", ".join(steps)

    def clean(self) -> dict:
        data = super().clean()
        values = {name: data.get(name) for name in self.declared_fields if name != "always"}
        values["business_hours"] = self.hours()
        values["attempt_cadence"] = _items(data.get("attempt_cadence", ""))
        return values


class MemberRoutingForm(WeekHoursForm):
    """A rep's share of the leads: capacity, daily limit, weight, away and working hours."""

    capacity = capacity_field()
    daily_limit = forms.IntegerField(
        label=_("Daily limit (new leads a day)"),
        min_value=0,
        max_value=100_000,
        help_text=_("0: no limit"),
    )
    weight = forms.IntegerField(
        label=_("Weight"),
        min_value=1,
        max_value=100,
        help_text=_("Share in weighted round robin: a rep of weight 3 gets three leads to one."),
    )
    away = forms.BooleanField(label=_("Away (takes no new leads)"), required=False)
    always = forms.BooleanField(label=_("Works the business hours"), required=False)
    nothing_open = _(
        "Give the working hours of at least one day, or tick Works the business hours."
    )

    def __init__(self, *args, member, **kwargs):
        initial = {
            "capacity": member.capacity,
            "daily_limit": member.daily_limit,
            "weight": member.weight,
            "away": member.away,
        }
        kwargs.setdefault("prefix", f"routing-{member.pk}")
        super().__init__(*args, hours=member.working_hours, initial=initial, **kwargs)

    def clean(self) -> dict:
        data = super().clean()
        values = {name: data.get(name) for name in ("capacity", "daily_limit", "weight", "away")}
        return {**values, "working_hours": self.hours()}


class RuleForm(forms.Form):
    """A rule's conditions as lists and `name = values` lines, and its reps; the fallback shows
    only its reps and strategy."""

    service_fields = {  # the form field of each of the service's fields
        "conditions.source": "sources",
        "conditions.campaign": "campaigns",
        "conditions.channel": "channels",
        "conditions.language": "languages",
        "conditions.fields": "field_conditions",
        "team_id": "team",
        "member_ids": "members",
    }
    name = forms.CharField(label=_("Name"), max_length=100)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    sources = forms.CharField(
        label=_("Sources"),
        required=False,
        max_length=2000,
        help_text=_("Comma-separated, e.g. facebook, google, website. Empty: any."),
    )
    campaigns = forms.CharField(
        label=_("Campaigns"),
        required=False,
        max_length=2000,
        help_text=_("Comma-separated campaign names. Empty: any."),
    )
    channels = forms.TypedMultipleChoiceField(
        label=_("Channels"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any."),
    )
    languages = forms.CharField(
        label=_("Languages"),
        required=False,
        max_length=200,
        help_text=_("The lead's language field, e.g. vi, en. Empty: any."),
    )
    field_conditions = forms.CharField(
        label=_("Lead fields"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: name = value1, value2 (e.g. province = Hà Nội, Hải Phòng)."),
    )
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    members = forms.TypedMultipleChoiceField(
        label=_("Named reps"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Either a team or named reps; neither: every sales rep."),
    )
    strategy = forms.ChoiceField(label=_("Strategy"), choices=Strategy.choices)

    def __init__(self, *args, choices: dict, rule: Rule | None = None, **kwargs):
        if rule is not None:
            kwargs.setdefault("prefix", f"rule-{rule.pk}")
            kwargs["initial"] = self.initial_of(rule)
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("Every sales rep")), *choices["teams"]]
        self.fields["members"].choices = choices["members"]
        self.fields["channels"].choices = choices["channels"]
        if rule is not None and rule.fallback:  # it takes every other lead
            for name in ("name", "active", *CONDITION_FIELDS):
                del self.fields[name]

    @staticmethod
    def initial_of(rule: Rule) -> dict:
        conditions = rule.conditions
        return {
            "name": rule.name,
            "active": rule.active,
            "sources": ", ".join(conditions.get("source", [])),
            "campaigns": ", ".join(conditions.get("campaign", [])),
            "channels": conditions.get("channel", []),
            "languages": ", ".join(conditions.get("language", [])),
            "field_conditions": "\n".join(
                f"{name} = {', '.join(values)}"
                for name, values in conditions.get("fields", {}).items()
            ),
            "team": rule.team_id,
            "members": [m.pk for m in rule.members.all()],
            "strategy": rule.strategy,
        }

    def clean_field_conditions(self) -> dict:
        pairs = _pairs(self.cleaned_data["field_conditions"])
        if pairs is None:
            raise forms.ValidationError(_("Write each line as name = value1, value2."))
        return {name: _items(values) for name, values in pairs}

    def clean(self) -> dict:
        data = super().clean()
        values = {
            "team_id": data.get("team"),
            "member_ids": data.get("members", []),
            "strategy": data.get("strategy"),
        }
        if "name" not in self.fields:  # the fallback
            return values
        conditions = {
            "source": _items(data.get("sources")),
            "campaign": _items(data.get("campaigns")),
            "channel": data.get("channels", []),
            "language": _items(data.get("languages")),
            "fields": data.get("field_conditions", {}),
        }
        values |= {"name": data.get("name"), "active": data.get("active")}
        return {**values, "conditions": conditions}


class PreviewForm(forms.Form):
    """A lead to try the rules on."""

    source = forms.CharField(label=_("Source"), required=False, max_length=200)
    campaign = forms.CharField(label=_("Campaign"), required=False, max_length=200)
    channel_id = forms.TypedChoiceField(
        label=_("Channel"), required=False, coerce=int, empty_value=None
    )
    language = forms.CharField(label=_("Language"), required=False, max_length=20)
    lead_fields = forms.CharField(
        label=_("Lead fields"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line: name = value"),
    )

    def __init__(self, *args, channels: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel_id"].choices = [("", _("None")), *channels]

    def clean_lead_fields(self) -> dict:
        pairs = _pairs(self.cleaned_data["lead_fields"])
        if pairs is None or len(pairs) > 50:
            raise forms.ValidationError(_("Write each line as name = value."))
        return dict(pairs)

    def clean(self) -> dict:
        data = super().clean()
        return {
            **{name: data.get(name) for name in ("source", "campaign", "channel_id", "language")},
            "fields": data.get("lead_fields", {}),
        }
