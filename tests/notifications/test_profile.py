"""/profile/: every member chooses whether notifications also come by e-mail; the members API."""

import pytest

from leadloop.core.errors import Forbidden
from leadloop.core.models import AuditLog, Member
from leadloop.notifications.services import notification_preferences_update
from tests.web.leads import browser


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "sales"])
def test_every_member_turns_e_mail_on_and_off(team, role):
    client = browser(team, role)
    page = client.get("/profile/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Also send me every notification by e-mail" in html
    assert f"{role}@acme.test" in html and 'href="/profile/"' in html
    response = client.post("/profile/", {"email_notifications": "on"})
    assert response.status_code == 302 and response.url == "/profile/"
    assert Member.objects.get(pk=team.members[role].pk).email_notifications is True
    assert "checked" in client.get("/profile/").content.decode()
    client.post("/profile/", {})
    assert Member.objects.get(pk=team.members[role].pk).email_notifications is False
    actions = AuditLog.objects.filter(actor=team.members[role], action="member.notifications")
    assert [a.data for a in actions.order_by("id")] == [{"email": True}, {"email": False}]


def test_the_profile_is_translated(team):
    html = browser(team, "sales", "vi").get("/profile/?lang=vi").content.decode()
    assert "Hồ sơ của tôi" in html and "Gửi thêm cho tôi mọi thông báo qua e-mail" in html


def test_nobody_chooses_for_someone_else(team):
    with pytest.raises(Forbidden):
        notification_preferences_update(
            member=team.members["sales"], actor=team.actors["admin"], email=True
        )


def test_the_members_api_shows_and_takes_the_preference(team, admin_api):
    response = admin_api.post(
        "/members",
        {
            "email": "new@acme.test",
            "full_name": "Người Mới",
            "role": "sales",
            "email_notifications": True,
        },
    )
    assert response.status_code == 201
    assert response.json()["email_notifications"] is True
    listed = {m["email"]: m for m in admin_api.get("/members").json()}
    assert listed["new@acme.test"]["email_notifications"] is True
    assert listed["sales@acme.test"]["email_notifications"] is False
