from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from leadloop.activities.forms import CallForm, NoteForm
from leadloop.activities.services import Logged, activity_log
from leadloop.pipeline.views import lead_form_post, lead_of
from leadloop.web.pages import member_page

FORMS = {"call": CallForm, "note": NoteForm}
SAVED = {"call": gettext_lazy("Call logged."), "note": gettext_lazy("Note saved.")}


def _after_logging(request, logged: Logged):
    """Back to the lead; after a call, its suggested stage is pre-selected in the stage form."""
    url = reverse("lead-detail", args=[logged.activity.lead_id])
    stage = logged.suggested_stage
    if stage is None:
        messages.success(request, SAVED[logged.activity.kind])
        return redirect(url)
    messages.success(request, _("Call logged. Suggested stage: %(stage)s.") % {"stage": stage})
    return redirect(f"{url}?suggest={stage.key}#stage")


@require_POST
@member_page
def lead_activity(request, lead_id: int, kind: str):
    lead = lead_of(request, lead_id)
    form = FORMS[kind](request.POST)

    def act(_data):
        logged = activity_log(lead=lead, actor=request.actor, **form.activity())
        return _after_logging(request, logged)

    return lead_form_post(request, lead, form, f"{kind}_form", act)
