"""Who is acting, and what their role lets them do. Passed explicitly below the view."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from leadloop.core.errors import Forbidden
from leadloop.core.models import Member, Role, Workspace


@dataclass(frozen=True)
class Actor:
    workspace: Workspace
    role: str
    member: Member | None = None
    label: str = ""

    @classmethod
    def of(cls, member: Member) -> "Actor":
        return cls(
            workspace=member.workspace, role=member.role, member=member, label=member.full_name
        )

    @classmethod
    def system(cls, workspace: Workspace, label: str = "system") -> "Actor":
        return cls(workspace=workspace, role=Role.ADMIN, label=label)

    @property
    def member_id(self) -> int | None:
        return self.member.id if self.member else None

    @property
    def sees_all_leads(self) -> bool:
        return self.role != Role.SALES

    @property
    def works_leads(self) -> bool:
        return self.role in (Role.ADMIN, Role.MANAGER, Role.SALES)

    @property
    def assigns_leads(self) -> bool:
        return self.role in (Role.ADMIN, Role.MANAGER)

    @property
    def administers(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def imports_leads(self) -> bool:
        return self.role in (Role.ADMIN, Role.MANAGER, Role.MARKETER)

    @property
    def captures_leads(self) -> bool:
        return self.role in (Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.SALES)

    def require(self, allowed: bool, message: str | None = None) -> None:
        if not allowed:
            raise Forbidden(message or _("Your role does not allow this action."))
