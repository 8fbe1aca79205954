"""Settings → Channels: the list, adding a channel, its settings, and the website form snippet."""

import re

import pytest

from leadloop.core.models import AuditLog
from leadloop.intake.models import Channel
from leadloop.intake.services import channel_create


def page(team, role: str, path: str = "/settings/channels/", **data):
    client = team.browser_client(role)
    return client.post(path, data) if data else client.get(path)


def make(team, kind="form", **settings) -> Channel:
    return channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind=kind,
        name=f"{kind} channel",
        settings=settings,
    )


@pytest.mark.parametrize("role", ["admin", "marketer"])
def test_admins_and_marketers_list_channels_with_their_addresses(team, role):
    form, facebook = make(team), make(team, "facebook", verify_token="v")
    html = page(team, role).content.decode()
    assert f"/hooks/acme/forms/{form.key}" in html
    assert "/hooks/acme/facebook" in html
    assert f'href="/settings/channels/{facebook.pk}/"' in html


@pytest.mark.parametrize("role", ["manager", "sales"])
def test_other_roles_cannot_open_channels(team, role):
    channel = make(team)
    assert page(team, role).status_code == 403
    assert page(team, role, f"/settings/channels/{channel.pk}/").status_code == 403


def test_another_workspaces_channel_is_404(team, other_team):
    theirs = make(other_team)
    assert page(team, "admin", f"/settings/channels/{theirs.pk}/").status_code == 404
    response = page(team, "admin", f"/settings/channels/{theirs.pk}/", name="Mine", active="on")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "form channel"


def test_adding_a_channel_opens_its_settings(team):
    response = page(team, "marketer", **{"new-channel-kind": "form", "new-channel-name": "Tết"})
    channel = Channel.objects.get(workspace=team.workspace, name="Tết")
    assert response.status_code == 302
    assert response.url == f"/settings/channels/{channel.pk}/"


def test_a_bad_new_channel_shows_the_errors(team):
    response = page(team, "admin", **{"new-channel-kind": "fax", "new-channel-name": ""})
    assert response.status_code == 400
    assert not Channel.objects.exists()


def test_a_form_channel_shows_its_snippet(team):
    channel = make(team, consent_text='Đồng ý nhận "tư vấn" <qua điện thoại>')
    html = page(team, "admin", f"/settings/channels/{channel.pk}/?lang=en").content.decode()
    snippet = re.search(r'<pre class="snippet" id="form-snippet">(.*?)</pre>', html, re.S)[1]
    assert f'action="http://testserver/hooks/acme/forms/{channel.key}"' in snippet.replace(
        "&quot;", '"'
    )
    assert "&lt;form" in snippet  # shown as text, never rendered into the settings page
    assert 'name="website"' in snippet.replace("&quot;", '"')  # the honeypot
    assert "&lt;qua điện thoại&gt;" in snippet.replace("&amp;", "&")  # consent text escaped
    assert 'name="consent"' in snippet.replace("&quot;", '"')


def test_a_form_no_site_may_post_to_says_so(team):
    channel = make(team)
    warning = 'id="no-origins"'
    assert warning in page(team, "admin", f"/settings/channels/{channel.pk}/").content.decode()
    channel.settings = {"allowed_origins": ["https://shop.example.vn"]}
    channel.save()
    assert warning not in page(team, "admin", f"/settings/channels/{channel.pk}/").content.decode()


def test_saving_settings_keeps_secrets_left_empty_and_audits(team):
    secret, token = "app-secret-do-not-show", "page-token-do-not-show"
    channel = make(team, "facebook", verify_token="v1", app_secret=secret, page_access_token=token)
    path = f"/settings/channels/{channel.pk}/"
    html = page(team, "admin", path).content.decode()
    assert secret not in html and token not in html  # secrets are never shown back
    data = {"name": "Fanpage", "active": "on", "verify_token": "v2", "app_secret": ""}
    assert page(team, "admin", path, **data).status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Fanpage"
    assert channel.settings == {
        "verify_token": "v2",
        "app_secret": secret,
        "page_access_token": token,
    }
    entry = AuditLog.objects.filter(action="channel.update").get()
    assert entry.data["changed"] == ["verify_token"]


def test_form_settings_are_saved_and_checked(team):
    channel = make(team)
    path = f"/settings/channels/{channel.pk}/"
    data = {
        "name": "Landing",
        "allowed_origins": "https://a.vn\nhttps://b.vn",
        "consent_text": "Đồng ý",
        "rate_limit": "20",
        "redirect_url": "https://a.vn/cam-on",
    }
    assert page(team, "admin", path, **data).status_code == 302
    channel.refresh_from_db()
    assert channel.active is False  # the box was not ticked: paused
    assert channel.settings == {
        "allowed_origins": ["https://a.vn", "https://b.vn"],
        "consent_text": "Đồng ý",
        "rate_limit": "20",
        "redirect_url": "https://a.vn/cam-on",
    }
    bad = page(team, "admin", path, name="Landing", rate_limit="0")
    assert bad.status_code == 400
    channel.refresh_from_db()
    assert channel.settings["rate_limit"] == "20"
