from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.campaigns.selectors import campaign_list, source_list
from leadloop.core.access import Actor
from leadloop.pipeline.selectors import LeadFilter
from leadloop.reports.selectors import default_range
from leadloop.web.forms import DateInput, keyed_choices


class ReportForm(forms.Form):
    """The report's range and filters; what the query leaves out takes the default (30 days)."""

    date_from = forms.DateField(label=_("From"), widget=DateInput())
    date_to = forms.DateField(label=_("To"), widget=DateInput())
    by = forms.ChoiceField(
        label=_("Group by"), choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))]
    )
    source = forms.ChoiceField(label=_("Source"), required=False)
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)
    default_by = "day"

    def __init__(self, query, *, actor: Actor):
        first, last = default_range(actor.workspace)
        given = {name: value for name, value in query.items() if value}
        super().__init__({"date_from": first, "date_to": last, "by": self.default_by, **given})
        self.fields["source"].choices = keyed_choices(
            source_list(workspace=actor.workspace, fetched_by=actor), _("All sources")
        )
        self.fields["campaign"].choices = keyed_choices(
            campaign_list(workspace=actor.workspace, fetched_by=actor), _("All campaigns")
        )

    def report_args(self) -> dict:
        data = self.cleaned_data
        return {
            "date_from": data["date_from"],
            "date_to": data["date_to"],
            "base": LeadFilter(source=data["source"], campaign=data["campaign"]),
        }


class QualityForm(ReportForm):
    """The data-quality report's range and filters (no grouping by period)."""

    def __init__(self, query, *, actor: Actor):
        super().__init__(query, actor=actor)
        del self.fields["by"]


class SlaForm(ReportForm):
    """The SLA report's range (due days), grouping and lead filters."""

    default_by = "rep"

    def __init__(self, query, *, actor: Actor):
        super().__init__(query, actor=actor)
        self.fields["by"].choices = [("rep", _("Rep")), ("team", _("Team")), ("day", _("Day"))]
        self.fields["date_from"].label = _("Due from")
        self.fields["date_to"].label = _("Due to")
