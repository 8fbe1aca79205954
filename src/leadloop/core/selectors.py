from django.db.models import QuerySet
from django.utils.translation import gettext as _

from leadloop.core.access import Actor
from leadloop.core.errors import NotFound
from leadloop.core.models import ApiToken, Member, Role, Team, Workspace


def member_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Member]:
    return Member.objects.filter(workspace=workspace).select_related("user", "team")


def member_get(*, workspace: Workspace, fetched_by: Actor, member_id: int) -> Member:
    member = member_list(workspace=workspace, fetched_by=fetched_by).filter(id=member_id).first()
    if member is None:
        raise NotFound(_("Member not found."))
    return member


def sales_members(*, workspace: Workspace) -> QuerySet[Member]:
    return Member.objects.filter(workspace=workspace, role=Role.SALES, active=True)


def team_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Team]:
    return Team.objects.filter(workspace=workspace).order_by("name", "id")


def team_get(*, workspace: Workspace, fetched_by: Actor, team_id: int) -> Team:
    team = team_list(workspace=workspace, fetched_by=fetched_by).filter(id=team_id).first()
    if team is None:
        raise NotFound(_("Team not found."))
    return team


def token_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[ApiToken]:
    fetched_by.require(fetched_by.administers)
    return ApiToken.objects.filter(workspace=workspace, revoked_at__isnull=True).order_by("-id")


def memberships_of(user) -> QuerySet[Member]:
    return Member.objects.filter(user=user, active=True).select_related("workspace")
