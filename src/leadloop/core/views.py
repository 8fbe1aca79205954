import secrets
from functools import partial

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from leadloop.core.errors import ApplicationError
from leadloop.core.forms import (
    MemberCreateForm,
    MemberUpdateForm,
    StageCreateForm,
    StageUpdateForm,
    TeamForm,
    TeamRenameForm,
    TokenForm,
)
from leadloop.core.models import Role
from leadloop.core.selectors import member_get, member_list, team_get, team_list, token_list
from leadloop.core.services import (
    TokenMarkUsed,
    member_create,
    member_update,
    team_create,
    team_rename,
    token_create,
    token_revoke,
)
from leadloop.pipeline.selectors import stage_list
from leadloop.pipeline.services import stage_create, stage_reorder, stage_update
from leadloop.routing.forms import MemberRoutingForm
from leadloop.routing.services import member_routing_update
from leadloop.web.pages import member_page, show_error, swapped


def _team_choices(actor) -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in team_list(workspace=actor.workspace, fetched_by=actor)]


def _member_form(member, team_choices, data=None) -> MemberUpdateForm:
    initial = {
        "full_name": member.full_name,
        "role": member.role,
        "team": member.team_id,
        "active": member.active,
        "language": member.language,
    }
    form = MemberUpdateForm(
        data, prefix=f"member-{member.pk}", initial=initial, team_choices=team_choices
    )
    form.fields["active"].widget.attrs["data-confirm-unchecked"] = _(
        "Deactivate %(name)s? They can no longer sign in; their open leads go to other reps "
        "now, or wait in the queue for the first who can take them."
    ) % {"name": member.full_name}
    return form


def _stage_form(stage, data=None) -> StageUpdateForm:
    initial = {
        "name_vi": stage.name_vi,
        "name_en": stage.name_en,
        "category": stage.category,
        "archived": stage.archived,
        "pauses_sla": stage.pauses_sla,
    }
    return StageUpdateForm(data, prefix=f"stage-{stage.key}", initial=initial)


def _member_rows(actor, bound: dict, teams: list | None) -> list[tuple]:
    """Each member with their edit form (admins: `teams` given) and, for those who take leads,
    their routing form."""
    return [
        (
            m,
            teams is not None and (bound.get(("member", m.pk)) or _member_form(m, teams)),
            m.role != Role.MARKETER
            and (bound.get(("routing", m.pk)) or MemberRoutingForm(member=m)),
        )
        for m in member_list(workspace=actor.workspace, fetched_by=actor)
    ]


def _team_rows(actor, members, bound: dict) -> list[tuple]:
    """Each team with its members' names and its rename form."""
    names: dict[int, list[str]] = {}
    for member in members:
        if member.team_id and member.active:
            names.setdefault(member.team_id, []).append(member.full_name)
    return [
        (
            team,
            names.get(team.pk, []),
            bound.get(("team", team.pk))
            or TeamRenameForm(prefix=f"team-{team.pk}", initial={"name": team.name}),
        )
        for team in team_list(workspace=actor.workspace, fetched_by=actor)
    ]


def _admin_context(request, bound: dict) -> dict:
    """The forms of the admin's settings page; `bound` holds a refused one with its errors."""
    actor, teams = request.actor, _team_choices(request.actor)
    members = member_list(workspace=actor.workspace, fetched_by=actor)
    stages = stage_list(workspace=actor.workspace, fetched_by=actor, archived=True)
    return {
        "members": _member_rows(actor, bound, teams),
        "stages": [(s, bound.get(("stage", s.key)) or _stage_form(s)) for s in stages],
        "teams": _team_rows(actor, members, bound),
        "tokens": token_list(workspace=actor.workspace, fetched_by=actor),
        "member_form": bound.get("member") or MemberCreateForm(team_choices=teams),
        "team_form": bound.get("team") or TeamForm(),
        "stage_form": bound.get("stage") or StageCreateForm(),
        "token_form": bound.get("token") or _token_form(members),
    }


def settings_page(request, *, status: int = 200, new_key: str = "", bound: dict | None = None):
    """Admins manage everything here; managers the members' routing (capacity, shifts …)."""
    actor = request.actor
    actor.require(
        actor.role in (Role.ADMIN, Role.MANAGER),
        _("Only admins and managers can open the settings."),
    )
    if actor.administers:
        context = _admin_context(request, bound or {})
    else:
        context = {"members": _member_rows(actor, bound or {}, None)}
    return render(request, "core/settings.html", {**context, "new_key": new_key}, status=status)


def _submit(request, form, action, *, done: str, section: str, bound_as):
    """Run `action` with the form's data; success goes back to the section, a refusal shows."""
    if form.is_valid():
        try:
            action(**form.cleaned_data)
        except ApplicationError as exc:
            show_error(form, exc)
        else:
            messages.success(request, done)
            return redirect(f"{reverse('settings')}#{section}")
    return settings_page(request, status=400, bound={bound_as: form})


@member_page
def settings_index(request):
    return settings_page(request)


@require_POST
@member_page
def member_add(request):
    actor = request.actor
    form = MemberCreateForm(request.POST, team_choices=_team_choices(actor))
    action = partial(member_create, workspace=actor.workspace, actor=actor)
    return _submit(
        request, form, action, done=_("Member added."), section="members", bound_as="member"
    )


@require_POST
@member_page
def member_edit(request, member_id: int):
    actor = request.actor
    member = member_get(workspace=actor.workspace, fetched_by=actor, member_id=member_id)
    form = _member_form(member, _team_choices(actor), request.POST)

    def action(**data):
        saved = member_update(member=member, actor=actor, **data)
        if handed_on := getattr(saved, "handed_on", None):  # deactivated: where leads went
            _tell_handed_on(request, saved, *handed_on)

    return _submit(
        request,
        form,
        action,
        done=_("Member saved."),
        section="members",
        bound_as=("member", member.pk),
    )


def _tell_handed_on(request, member, handed: int, queued: int) -> None:
    if handed:
        messages.success(
            request,
            ngettext(
                "%(count)s open lead went to other reps.",
                "%(count)s open leads went to other reps.",
                handed,
            )
            % {"count": handed},
        )
    if queued:
        messages.warning(
            request,
            ngettext(
                "%(count)s open lead of %(name)s waits in the queue: no rep can take it now. "
                "It goes to the first who can.",
                "%(count)s open leads of %(name)s wait in the queue: no rep can take them now. "
                "They go to the first who can.",
                queued,
            )
            % {"count": queued, "name": member.full_name},
        )


@require_POST
@member_page
def member_routing_edit(request, member_id: int):
    actor = request.actor
    member = member_get(workspace=actor.workspace, fetched_by=actor, member_id=member_id)
    return _submit(
        request,
        MemberRoutingForm(request.POST, member=member),
        partial(member_routing_update, member=member, actor=actor),
        done=_("Routing saved."),
        section="members",
        bound_as=("routing", member.pk),
    )


@require_POST
@member_page
def team_edit(request, team_id: int):
    actor = request.actor
    team = team_get(workspace=actor.workspace, fetched_by=actor, team_id=team_id)
    return _submit(
        request,
        TeamRenameForm(request.POST, prefix=f"team-{team.pk}"),
        partial(team_rename, team=team, actor=actor),
        done=_("Team renamed."),
        section="teams",
        bound_as=("team", team.pk),
    )


@require_POST
@member_page
def team_add(request):
    actor = request.actor
    action = partial(team_create, workspace=actor.workspace, actor=actor)
    return _submit(
        request,
        TeamForm(request.POST),
        action,
        done=_("Team added."),
        section="teams",
        bound_as="team",
    )


@require_POST
@member_page
def stage_add(request):
    actor = request.actor
    action = partial(stage_create, workspace=actor.workspace, actor=actor)
    return _submit(
        request,
        StageCreateForm(request.POST),
        action,
        done=_("Stage added."),
        section="stages",
        bound_as="stage",
    )


def _stage_of(request, key: str):
    actor = request.actor
    return get_object_or_404(
        stage_list(workspace=actor.workspace, fetched_by=actor, archived=True), key=key
    )


@require_POST
@member_page
def stage_edit(request, key: str):
    stage = _stage_of(request, key)
    action = partial(stage_update, stage=stage, actor=request.actor)
    return _submit(
        request,
        _stage_form(stage, request.POST),
        action,
        done=_("Stage saved."),
        section="stages",
        bound_as=("stage", stage.key),
    )


@require_POST
@member_page
def stage_move(request, key: str):
    actor = request.actor
    stage = _stage_of(request, key)
    keys = [s.key for s in stage_list(workspace=actor.workspace, fetched_by=actor, archived=True)]
    step = -1 if request.POST.get("direction") == "up" else 1
    stage_reorder(workspace=actor.workspace, actor=actor, keys=swapped(keys, stage.key, step))
    return redirect(f"{reverse('settings')}#stages")


def _token_form(members) -> TokenForm:
    """A new token form with a mark of its own: the same form sent again (the page reloaded)
    makes no second token."""
    return TokenForm(members=members, initial={"once": secrets.token_urlsafe(12)})


@require_POST
@member_page
def token_add(request):
    actor = request.actor
    form = TokenForm(request.POST, members=member_list(workspace=actor.workspace, fetched_by=actor))
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "once"}
        try:
            _token, key = token_create(
                workspace=actor.workspace, actor=actor, form_mark=form.cleaned_data["once"], **data
            )
        except TokenMarkUsed as exc:
            messages.info(request, exc.message)
            return redirect(f"{reverse('settings')}#tokens")
        except ApplicationError as exc:
            show_error(form, exc)
        else:  # the key is shown once, in this answer only (never stored in the session)
            return settings_page(request, new_key=key)
    return settings_page(request, status=400, bound={"token": form})


@require_POST
@member_page
def token_remove(request, token_id: int):
    actor = request.actor
    token = get_object_or_404(token_list(workspace=actor.workspace, fetched_by=actor), pk=token_id)
    token_revoke(token=token, actor=actor)
    messages.success(request, _("Token revoked."))
    return redirect(f"{reverse('settings')}#tokens")
