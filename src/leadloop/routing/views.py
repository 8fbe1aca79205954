from functools import partial

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leadloop.campaigns.selectors import campaign_list, source_list
from leadloop.core.errors import ApplicationError
from leadloop.pipeline.selectors import stage_list
from leadloop.routing.forms import PolicyForm, PreviewForm, RuleForm
from leadloop.routing.selectors import (
    policy_get,
    routing_preview,
    rule_choices,
    rule_get,
    rule_list,
)
from leadloop.routing.services import (
    member_routing_update,
    policy_update,
    rule_create,
    rule_delete,
    rule_reorder,
    rule_update,
)
from leadloop.web.pages import htmx_render, member_page, show_error, swapped


def _saved(form, action) -> bool:
    """Run `action` with the form's values; a refusal goes on the form."""
    if not form.is_valid():
        return False
    try:
        action(**form.cleaned_data)
    except ApplicationError as exc:
        show_error(form, exc)
        return False
    return True


def _tester(request, actor, channels: list):
    """The "who would get this lead?" form and, once sent, its answer."""
    form = PreviewForm(request.GET if "test" in request.GET else None, channels=channels)
    if not form.is_valid():
        return form, None
    try:
        return form, routing_preview(workspace=actor.workspace, actor=actor, **form.cleaned_data)
    except ApplicationError as exc:
        show_error(form, exc)
        return form, None


@member_page
def rules_page(request):
    actor = request.actor
    choices = rule_choices(workspace=actor.workspace, fetched_by=actor)
    form = RuleForm(request.POST or None, choices=choices, prefix="new-rule")
    create = partial(rule_create, workspace=actor.workspace, actor=actor)
    if request.method == "POST" and _saved(form, create):
        messages.success(request, _("Rule added."))
        return redirect("settings-routing")
    rows = _rule_rows(actor, dict(choices["channels"]))
    tester, preview = _tester(request, actor, choices["channels"])
    context = {"rows": rows, "form": form, "tester": tester, "preview": preview}
    status = 400 if request.method == "POST" else 200
    return htmx_render(request, "routing/rules.html", "routing/_preview.html", context, status)


def _rule_rows(actor, channels: dict) -> list[tuple]:
    """Each rule with the names of the channels, sources and campaigns it names (a rule keeps
    their ids and keys; a source typed before any lead came from it shows its key)."""
    rules = list(rule_list(workspace=actor.workspace, fetched_by=actor))
    named = {
        kind: dict(
            things.filter(
                key__in={k for r in rules for k in r.conditions.get(kind, [])}
            ).values_list("key", "name")
        )
        for kind, things in (
            ("source", source_list(workspace=actor.workspace, fetched_by=actor)),
            ("campaign", campaign_list(workspace=actor.workspace, fetched_by=actor)),
        )
    }
    return [
        (
            rule,
            [channels.get(i, f"#{i}") for i in rule.conditions.get("channel", [])],
            *([named[kind].get(k, k) for k in rule.conditions.get(kind, [])] for kind in named),
        )
        for rule in rules
    ]


@member_page
def rule_page(request, rule_id: int):
    actor = request.actor
    rule = rule_get(workspace=actor.workspace, fetched_by=actor, rule_id=rule_id)
    choices = rule_choices(workspace=actor.workspace, fetched_by=actor)
    form = RuleForm(request.POST or None, choices=choices, rule=rule)
    if request.method == "POST" and _saved(form, partial(rule_update, rule=rule, actor=actor)):
        messages.success(request, _("Rule saved."))
        return redirect("settings-routing")
    status = 400 if request.method == "POST" else 200
    return render(request, "routing/rule.html", {"rule": rule, "form": form}, status=status)


@require_POST
@member_page
def rule_move(request, rule_id: int):
    actor = request.actor
    rule = rule_get(workspace=actor.workspace, fetched_by=actor, rule_id=rule_id)
    if not rule.fallback:  # always last
        rules = rule_list(workspace=actor.workspace, fetched_by=actor).filter(fallback=False)
        ids = list(rules.values_list("id", flat=True))
        step = -1 if request.POST.get("direction") == "up" else 1
        rule_reorder(workspace=actor.workspace, actor=actor, ids=swapped(ids, rule.pk, step))
    return redirect("settings-routing")


@require_POST
@member_page
def rule_remove(request, rule_id: int):
    actor = request.actor
    rule = rule_get(workspace=actor.workspace, fetched_by=actor, rule_id=rule_id)
    rule_delete(rule=rule, actor=actor)
    messages.success(request, _("Rule deleted."))
    return redirect("settings-routing")


@member_page
def sla_page(request):
    actor = request.actor
    policy = policy_get(workspace=actor.workspace, fetched_by=actor)
    stages = stage_list(workspace=actor.workspace, fetched_by=actor)
    form = PolicyForm(request.POST or None, policy=policy, stages=stages)
    update = partial(policy_update, workspace=actor.workspace, actor=actor)
    if request.method == "POST" and _saved(form, update):
        messages.success(request, _("SLA policy saved."))
        return redirect("settings-sla")
    status = 400 if request.method == "POST" else 200
    return render(request, "routing/sla.html", {"form": form}, status=status)


@require_POST
@member_page
def away_switch(request):
    """The signed-in rep's own Away / Available switch; back to the page it was pressed on."""
    away = request.POST.get("away") == "1"
    member_routing_update(member=request.member, actor=request.actor, away=away)
    messages.success(request, _("You are away: no new leads.") if away else _("You are available."))
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure())
    return redirect(back if safe else "dashboard")
