"""Test data through the services, as the product makes it."""

from itertools import count

from leadloop.intake.services import Submission, lead_capture
from leadloop.pipeline.models import Lead
from leadloop.reports.selectors import default_range
from leadloop.routing.services import lead_assign

_numbers = count(1)


def capture(team, owner: str | None = None, **fields) -> Lead:
    """Capture a lead (a fresh phone number unless given); `owner` is the role to assign it to."""
    fields.setdefault("phone", f"0912{next(_numbers):06d}")
    admin = team.actors["admin"]
    lead = lead_capture(workspace=team.workspace, actor=admin, submission=Submission(**fields)).lead
    if owner and lead.owner_id != team.members[owner].id:
        lead = lead_assign(lead=lead, actor=admin, owner_id=team.members[owner].id)
    return lead


def routed_to(team, role: str) -> Lead:
    """A lead the round robin gave to `role`: one that no other member ever owned."""
    for _attempt in range(len(team.members)):
        lead = capture(team)
        if lead.owner_id == team.members[role].id:
            return lead
    raise AssertionError(f"the round robin never chose {role}")


def browser(team, role: str, language: str = "en"):
    """A signed-in browser client whose browser asks for `language`."""
    client = team.browser_client(role)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return client


def local_today(team):
    """Today in the workspace's time zone (what reports and date filters call a day)."""
    return default_range(team.workspace, days=1)[1]
