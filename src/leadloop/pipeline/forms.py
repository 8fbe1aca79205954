from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.campaigns.selectors import campaign_list, source_list
from leadloop.core.access import Actor
from leadloop.core.errors import Forbidden, NotFound, ValidationFailed
from leadloop.core.ids import id_in
from leadloop.core.models import Member, Team
from leadloop.core.selectors import member_list, sales_members
from leadloop.intake.imports import import_get
from leadloop.intake.services import Submission
from leadloop.pipeline.obligations import KINDS, STATES
from leadloop.pipeline.selectors import NONE, SLA_FIELDS, LeadFilter, stage_list
from leadloop.routing.models import Timer
from leadloop.web.forms import DateInput, keyed_choices
from leadloop.web.pages import show_error


class LeadFilterForm(forms.Form):
    """The lead list's filters; the field names are LeadFilter's."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, phone or e-mail")}),
    )
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    source = forms.ChoiceField(label=_("Source"), required=False)
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)
    created_from = forms.DateField(label=_("Created from"), required=False, widget=DateInput())
    created_to = forms.DateField(label=_("Created to"), required=False, widget=DateInput())
    reached = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    open = forms.NullBooleanField(required=False, widget=forms.HiddenInput)
    contacted = forms.NullBooleanField(required=False, widget=forms.HiddenInput)
    test = forms.NullBooleanField(required=False, widget=forms.HiddenInput)
    invalid = forms.NullBooleanField(required=False, widget=forms.HiddenInput)
    duplicate = forms.NullBooleanField(required=False, widget=forms.HiddenInput)
    imported = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    contact = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    sla = forms.ChoiceField(
        label=_("SLA"),
        required=False,
        choices=[("", ""), *((state, state) for state in STATES)],
        widget=forms.HiddenInput,
    )
    sla_kind = forms.ChoiceField(
        label=_("SLA"),
        required=False,
        choices=[("", ""), *((kind, kind) for kind in KINDS)],
        widget=forms.HiddenInput,
    )
    sla_member = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    sla_team = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    sla_from = forms.DateField(required=False, widget=forms.HiddenInput)
    sla_to = forms.DateField(required=False, widget=forms.HiddenInput)

    def __init__(self, data, *, actor: Actor):
        super().__init__(data)
        self.actor, self.workspace = actor, actor.workspace
        workspace = actor.workspace
        self.fields["stage"].choices = keyed_choices(
            stage_list(workspace=workspace, fetched_by=actor, archived=True), _("All stages")
        )
        self.fields["source"].choices = [
            *keyed_choices(source_list(workspace=workspace, fetched_by=actor), _("All sources")),
            (NONE, _("No source")),
        ]
        self.fields["campaign"].choices = [
            *keyed_choices(
                campaign_list(workspace=workspace, fetched_by=actor), _("All campaigns")
            ),
            (NONE, _("No campaign")),
        ]
        if actor.sees_all_leads:
            members = member_list(workspace=workspace, fetched_by=actor)
            self.fields["owner"].choices = [
                ("", _("Everyone")),
                ("me", _("Me")),
                ("none", _("Unassigned")),
                *((str(m.id), m.full_name) for m in members),
            ]
        else:
            del self.fields["owner"]  # a sales rep's list holds only their own leads

    def clean(self):
        data = super().clean()
        try:
            self.filter = LeadFilter(**data)
        except ValidationFailed as exc:  # a day no datetime holds: on its field, as a bad date
            show_error(self, exc)
        return data

    def lead_filter(self) -> LeadFilter:
        return self.filter

    def hidden_filters(self) -> list[str]:
        """Labels of the drill-down filters that have no visible field (from reports, dashboard)."""
        data = self.cleaned_data if self.is_valid() else {}
        labels = []
        if data.get("reached"):
            stage = dict(self.fields["stage"].choices).get(data["reached"], data["reached"])
            labels.append(_("Reached %(stage)s or a later stage") % {"stage": stage})
        if data.get("open") is not None:
            labels.append(_("Open leads") if data["open"] else _("Closed leads"))
        if data.get("contacted") is not None:
            labels.append(_("Contacted") if data["contacted"] else _("Not contacted yet"))
        if data.get("test") is not None:
            labels.append(_("Test leads") if data["test"] else _("Real leads, tests left out"))
        if data.get("invalid") is not None:
            labels.append(_("Invalid data") if data["invalid"] else _("Valid data"))
        if data.get("duplicate") is not None:
            labels.append(_("Duplicates") if data["duplicate"] else _("Not duplicates"))
        if data.get("imported"):
            labels.append(self._import_label(data["imported"]))
        if data.get("contact"):
            labels.append(_("Leads of contact #%(id)s") % {"id": _id(data["contact"])})
        if any(data.get(name) for name in SLA_FIELDS):
            labels.append(self._sla_label(data))
        return labels

    def _import_label(self, imported: str) -> str:
        """The file's name for those who may open imports; a rep sees the import's number."""
        try:
            job = import_get(
                workspace=self.workspace, fetched_by=self.actor, import_id=_id(imported)
            )
        except Forbidden:
            return _("From import #%(id)s") % {"id": _id(imported)}
        except NotFound:
            return _("From an import not in this workspace")
        return _("From the import of %(file)s") % {"file": job.file_name}

    def _sla_label(self, data: dict) -> str:
        """E.g. 'SLA breached: First contact, owed by Sales Một, due 01/03/2027–31/03/2027'."""
        states = {"met": _("SLA met on time"), "breached": _("SLA breached")}
        label = str(states.get(data.get("sla"), _("SLA obligations due")))
        if data.get("sla_kind"):
            label += f": {Timer.Kind(data['sla_kind']).label}"
        member, team = data.get("sla_member"), data.get("sla_team")
        if member:
            found = Member.objects.filter(workspace=self.workspace, pk=_id(member)).first()
            name = found.full_name if found else _("nobody (assignment)")
            label += ", " + _("owed by %(name)s") % {"name": name}
        if team:
            found = Team.objects.filter(workspace=self.workspace, pk=_id(team)).first()
            label += ", " + (found.name if found else str(_("No team")))
        if data.get("sla_from") or data.get("sla_to"):
            days = [
                d.strftime("%d/%m/%Y") if d else "…"
                for d in (data.get("sla_from"), data.get("sla_to"))
            ]
            label += ", " + _("due %(from)s–%(to)s") % {"from": days[0], "to": days[1]}
        return label


def _id(text: str) -> int:
    return id_in(text) or 0


class StageForm(forms.Form):
    prefix = "stage"
    stage = forms.ChoiceField(label=_("Stage"))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)

    def __init__(self, *args, actor: Actor, current=None, suggested: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(s.key, s.name) for s in stage_list(workspace=actor.workspace, fetched_by=actor)]
        keys = {key for key, _name in choices}
        if current is not None and current.key not in keys:  # archived: shown, not chosen again
            label = _("%(stage)s (archived): choose another") % {"stage": current.name}
            choices.insert(0, ("", label))
        self.fields["stage"].choices = choices
        current_key = current.key if current is not None and current.key in keys else ""
        self.fields["stage"].initial = suggested if suggested in keys else current_key


class AssignForm(forms.Form):
    prefix = "assign"
    owner_id = forms.TypedChoiceField(label=_("Owner"), coerce=int)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)

    def __init__(self, *args, actor: Actor, **kwargs):
        super().__init__(*args, **kwargs)
        reps = sales_members(workspace=actor.workspace)
        self.fields["owner_id"].choices = [(m.id, m.full_name) for m in reps]


class NewLeadForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), required=False, max_length=200)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    email = forms.CharField(
        label=_("E-mail"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    source = forms.CharField(
        label=_("Source"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"list": "sources"}),
    )
    campaign = forms.CharField(
        label=_("Campaign"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"list": "campaigns"}),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, actor: Actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_sources = source_list(workspace=actor.workspace, fetched_by=actor)
        self.known_campaigns = campaign_list(workspace=actor.workspace, fetched_by=actor)

    def submission(self) -> Submission:
        return Submission(**self.cleaned_data)
