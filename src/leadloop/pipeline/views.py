from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leadloop.activities.forms import CallForm, NoteForm
from leadloop.activities.selectors import activity_list
from leadloop.contacts.selectors import duplicates_of
from leadloop.contacts.services import Identity
from leadloop.core import clock
from leadloop.core.errors import ApplicationError, NotFound
from leadloop.intake.selectors import touch_list
from leadloop.intake.services import Captured, lead_enter
from leadloop.pipeline.exports import export_response
from leadloop.pipeline.forms import AssignForm, LeadFilterForm, NewLeadForm, StageForm
from leadloop.pipeline.models import Lead
from leadloop.pipeline.obligations import lead_obligations
from leadloop.pipeline.selectors import lead_get, lead_list, lead_timeline, lead_was_owned_by
from leadloop.pipeline.services import lead_can_work, lead_change_stage
from leadloop.routing.services import lead_assign
from leadloop.web.pages import LeavePage, htmx_render, member_page, paginate, show_error


@member_page
def lead_index(request):
    actor = request.actor
    form = LeadFilterForm(request.GET, actor=actor)
    leads = (
        lead_list(workspace=actor.workspace, fetched_by=actor, filters=form.lead_filter())
        if form.is_valid()
        else []
    )
    context = {"form": form, "page": paginate(request, leads)}
    return htmx_render(request, "pipeline/lead_list.html", "pipeline/_lead_results.html", context)


@member_page
def lead_export(request):
    """The lead list's current filters as a CSV or XLSX download (`?format=`)."""
    actor = request.actor
    form = LeadFilterForm(request.GET, actor=actor)
    if not form.is_valid():
        context = {"form": form, "page": paginate(request, [])}
        return render(request, "pipeline/lead_list.html", context, status=400)
    return export_response(
        workspace=actor.workspace,
        actor=actor,
        filters=form.lead_filter(),
        fmt=request.GET.get("format", "csv"),
        readable=True,
    )


def lead_of(request, lead_id: int, *, leaving_to: str = "lead-list") -> Lead:
    """The lead, if the member may see it. A rep whose lead was given to another member since
    (a page left open, a notification read late) is sent to `leaving_to` and told why."""
    actor = request.actor
    try:
        return lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=lead_id)
    except NotFound:
        if (
            actor.sees_all_leads
            or actor.member is None
            or not lead_was_owned_by(
                workspace=actor.workspace, member_id=actor.member_id, lead_id=lead_id
            )
        ):
            raise
    if request.method == "POST":
        message = _(
            "Lead #%(id)s is no longer yours: it was assigned to another member. "
            "What you sent was not saved."
        )
    else:
        message = _("Lead #%(id)s is no longer yours: it was assigned to another member.")
    raise LeavePage(message % {"id": lead_id}, leaving_to)


def _quality_issues(lead: Lead) -> list[str]:
    contact = lead.contact
    who = Identity.clean(name=contact.full_name, phone=contact.phone_raw, email=contact.email)
    return who.quality()["issues"]


def _timeline(lead: Lead) -> list[tuple]:
    """The lead's events, newest first, each with its activity (a call's outcome, a note's text)."""
    activities = {a.pk: a for a in activity_list(lead=lead)}
    return [
        (event, activities.get(event.data.get("activity_id"))) for event in lead_timeline(lead=lead)
    ]


def lead_page(request, lead: Lead, *, status: int = 200, **bound_forms):
    """The lead page; `bound_forms` (a refused submission with its errors) replace blank forms."""
    actor = request.actor
    context = {
        "lead": lead,
        "quality_issues": _quality_issues(lead),
        "touches": touch_list(lead=lead),
        "timeline": _timeline(lead),
        "obligations": lead_obligations(lead=lead, now=clock.now()),
        "can_work": lead_can_work(lead, actor),
        "stage_form": StageForm(
            actor=actor, current=lead.stage, suggested=request.GET.get("suggest", "")
        ),
        "call_form": CallForm(),
        "note_form": NoteForm(),
        "assign_form": AssignForm(actor=actor, initial={"owner_id": lead.owner_id})
        if actor.assigns_leads
        else None,
        "duplicates": duplicates_of(
            workspace=actor.workspace, fetched_by=actor, contact=lead.contact
        )
        if actor.assigns_leads
        else None,
        **bound_forms,
    }
    return render(request, "pipeline/lead_detail.html", context, status=status)


@member_page
def lead_detail(request, lead_id: int):
    return lead_page(request, lead_of(request, lead_id))


def lead_form_post(request, lead: Lead, form, form_name: str, act):
    """A form posted on the lead page: `act(cleaned_data)` calls the service and returns the
    response; a refused form or a service error shows the lead page again with the form."""
    if form.is_valid():
        try:
            return act(form.cleaned_data)
        except ApplicationError as exc:
            show_error(form, exc)
    return lead_page(request, lead, status=400, **{form_name: form})


@require_POST
@member_page
def lead_stage(request, lead_id: int):
    lead = lead_of(request, lead_id)

    def act(data):
        before = lead.stage_id
        lead_change_stage(
            lead=lead, actor=request.actor, stage_key=data["stage"], reason=data["reason"]
        )
        if lead.stage_id == before:
            messages.info(request, _("The lead is already in %(stage)s.") % {"stage": lead.stage})
        else:
            messages.success(request, _("Stage changed to %(stage)s.") % {"stage": lead.stage})
        return redirect("lead-detail", lead.pk)

    form = StageForm(request.POST, actor=request.actor, current=lead.stage)
    return lead_form_post(request, lead, form, "stage_form", act)


@require_POST
@member_page
def lead_reassign(request, lead_id: int):
    lead = lead_of(request, lead_id)

    def act(data):
        lead_assign(
            lead=lead, actor=request.actor, owner_id=data["owner_id"], reason=data["reason"]
        )
        messages.success(request, _("Lead assigned to %(owner)s.") % {"owner": lead.owner})
        return redirect("lead-detail", lead.pk)

    form = AssignForm(request.POST, actor=request.actor)
    return lead_form_post(request, lead, form, "assign_form", act)


def _captured_message(captured: Captured) -> str:
    if not captured.created:
        return _("Joined existing lead #%(id)s.") % {"id": captured.lead.pk}
    if captured.returning:
        return _("Returning customer: new lead #%(id)s opened.") % {"id": captured.lead.pk}
    return _("Lead #%(id)s created.") % {"id": captured.lead.pk}


def _open_captured(request, lead: Lead):
    """The lead's page, or the list when the rep may not see it (a rep sees only their own):
    their entry joined a colleague's open lead."""
    actor = request.actor
    if lead_list(workspace=actor.workspace, fetched_by=actor).filter(pk=lead.pk).exists():
        return redirect("lead-detail", lead.pk)
    messages.info(request, _("It is assigned to another member."))
    return redirect("lead-list")


@member_page
def lead_new(request):
    actor = request.actor
    form = NewLeadForm(request.POST or None, actor=actor)
    if form.is_bound and form.is_valid():
        try:
            captured = lead_enter(actor=actor, submission=form.submission(), raw=form.cleaned_data)
        except ApplicationError as exc:
            show_error(form, exc)
        else:
            messages.success(request, _captured_message(captured))
            return _open_captured(request, captured.lead)
    status = 400 if form.errors else 200
    return render(request, "pipeline/lead_new.html", {"form": form}, status=status)
