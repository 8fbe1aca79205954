from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leadloop.contacts.forms import MergeForm
from leadloop.contacts.selectors import contact_get, duplicate_list
from leadloop.contacts.services import contact_merge, duplicate_dismiss, merge_defaults
from leadloop.core.errors import ApplicationError, ValidationFailed
from leadloop.pipeline.selectors import lead_get, lead_list, stage_list
from leadloop.web.pages import member_page, paginate, show_error


@member_page
def duplicate_queue(request):
    actor = request.actor
    pairs = duplicate_list(workspace=actor.workspace, fetched_by=actor)
    return render(request, "contacts/duplicate_queue.html", {"page": paginate(request, pairs)})


@require_POST
@member_page
def duplicate_not(request, pair_id: int):
    duplicate_dismiss(workspace=request.actor.workspace, actor=request.actor, pair_id=pair_id)
    messages.success(request, _("Marked as not a duplicate; this pair will not come back."))
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    return redirect(back if back and safe else "duplicate-queue")


def _into_id(request) -> int | None:
    """The survivor: `into` (a contact id) or `lead` (a lead id: its contact), from the query."""
    actor, given = request.actor, request.GET.get("into") or request.POST.get("into") or ""
    if given.isdigit():
        return int(given)
    lead = request.GET.get("lead", "")
    if lead.isdigit():
        return lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=int(lead)).contact_id
    return None


@member_page
def contact_merge_page(request, contact_id: int):
    """GET: the merge preview (a dry run) with the field choice; POST: the merge itself."""
    actor = request.actor
    gone = contact_get(workspace=actor.workspace, fetched_by=actor, contact_id=contact_id)
    into = _into_id(request)
    if into is None:
        raise ValidationFailed(_("Choose the contact to merge into."))
    survivor = contact_get(workspace=actor.workspace, fetched_by=actor, contact_id=into)
    data = (request.POST or request.GET).copy()
    for name, pk in merge_defaults(gone, survivor).items():  # shown chosen, as merged
        data.setdefault(name, str(pk))
    form = MergeForm(data, gone=gone, survivor=survivor)
    plan, status = None, 200
    if form.is_valid():
        try:
            plan = contact_merge(
                workspace=actor.workspace,
                actor=actor,
                contact_id=gone.pk,
                into_id=survivor.pk,
                fields=form.choices(),
                dry_run=request.method != "POST",
            )
        except ApplicationError as exc:
            show_error(form, exc)
    if plan and request.method == "POST":
        done = _("Contact #%(a)s merged into #%(b)s.") % {"a": gone.pk, "b": survivor.pk}
        messages.success(request, done)
        return redirect(_after_merge(plan))
    if form.errors:
        status = 400
    rows = plan["leads"] if plan else []
    leads = lead_list(workspace=actor.workspace, fetched_by=actor)
    found = {lead.pk: lead for lead in leads.filter(pk__in=[row["id"] for row in rows])}
    context = {
        "form": form,
        "gone": gone,
        "survivor": survivor,
        "plan": plan,
        "lead_rows": [(row, found.get(row["id"])) for row in rows],
        "closed_stage": plan
        and stage_list(workspace=actor.workspace, fetched_by=actor)
        .filter(key=plan["closed_stage"])
        .first(),
    }
    return render(request, "contacts/merge.html", context, status=status)


def _after_merge(plan: dict) -> str:
    lead = plan["open_lead"] or (plan["leads"][-1]["id"] if plan["leads"] else None)
    return reverse("lead-detail", args=[lead]) if lead else reverse("duplicate-queue")
