"""POST /api/v1/channels: the inbound URL, per-kind settings and validation."""

import pytest
from django.test import Client

from leadloop.intake.models import Channel
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error

SETTINGS = {
    "facebook": {"verify_token": "v", "app_secret": "s", "page_access_token": "t"},
    "google": {"google_key": "k"},
    "tiktok": {"app_secret": "s"},
    "zalo": {"app_id": "1", "oa_secret_key": "k"},
    "form": {"allowed_origins": ["https://shop.example.vn"]},
}


def test_form_channel_answers_201_with_an_inbound_url_that_works(team):
    api = team.api("admin")
    response = api.post(
        "/channels", {"kind": "form", "name": "Landing", "settings": SETTINGS["form"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "kind", "name", "key", "inbound_url"}
    assert body["kind"] == "form" and body["name"] == "Landing"
    assert body["inbound_url"] == f"http://testserver/hooks/acme/forms/{body['key']}"
    channel = Channel.objects.get(pk=body["id"])
    assert channel.workspace == team.workspace
    assert channel.settings == SETTINGS["form"]
    path = body["inbound_url"].removeprefix("http://testserver")
    assert Client().post(path, {"sdt": "0912345678"}).status_code == 200
    assert Lead.objects.get().touches.get().channel == channel


@pytest.mark.parametrize("kind", ["facebook", "google", "tiktok", "zalo"])
def test_provider_channels_get_their_provider_url(team, kind):
    response = team.api("marketer").post(
        "/channels", {"kind": kind, "name": kind.title(), "settings": SETTINGS[kind]}
    )
    assert response.status_code == 201, response.content
    assert response.json()["inbound_url"] == f"http://testserver/hooks/acme/{kind}"


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        ("form", {"app_secret": "x"}),
        ("facebook", {"google_key": "x"}),
        ("google", {"verify_token": "x"}),
        ("zalo", {"app_secret": "x"}),
        ("tiktok", {"allowed_origins": ["*"]}),
    ],
)
def test_unknown_settings_for_the_kind_are_a_422(team, kind, given):
    response = team.api("admin").post("/channels", {"kind": kind, "name": "x", "settings": given})
    error = assert_error(response, 422)
    assert "settings" in error["fields"]
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    "redirect", ["javascript:alert(1)", "data:text/html,hi", "//evil.example", "http://", "thanks"]
)
def test_a_form_redirect_must_be_a_web_page(team, redirect):
    body = {"kind": "form", "name": "Landing", "settings": {"redirect_url": redirect}}
    error = assert_error(team.api("admin").post("/channels", body), 422)
    assert "redirect_url" in error["fields"]
    assert not Channel.objects.exists()


def test_a_form_rate_limit_may_be_a_number_and_a_redirect_a_https_page(team):
    settings = {"rate_limit": 5, "redirect_url": "https://shop.example.vn/cam-on"}
    body = {"kind": "form", "name": "Landing", "settings": settings}
    response = team.api("admin").post("/channels", body)
    assert response.status_code == 201, response.content
    channel = Channel.objects.get()
    assert channel.settings == settings
    answer = Client().post(f"/hooks/acme/forms/{channel.key}", {"sdt": "0912345678"})
    assert (answer.status_code, answer["Location"]) == (302, settings["redirect_url"])
    flag = {**body, "settings": {"rate_limit": True}}
    assert_error(team.api("admin").post("/channels", flag), 422)  # true is no number


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_channel_name_is_required_and_bounded(team, name):
    assert_error(team.api("admin").post("/channels", {"kind": "form", "name": name}), 422)


def test_channel_keys_are_unique_and_unguessable(team):
    api = team.api("admin")
    keys = {
        api.post("/channels", {"kind": "form", "name": f"F{i}"}).json()["key"] for i in range(5)
    }
    assert len(keys) == 5
    assert all(len(key) >= 16 for key in keys)


@pytest.mark.parametrize(
    ("kind", "key", "given"),
    [
        ("google", "google_key", 12345),
        ("tiktok", "app_secret", ["a", "b"]),
        ("zalo", "app_id", 777),
        ("facebook", "verify_token", ["v"]),
        ("form", "consent_text", 5),
        ("form", "allowed_origins", "https://shop.example.vn"),
        ("form", "rate_limit", 0),
        ("form", "rate_limit", "1001"),
    ],
)
def test_a_setting_of_the_wrong_type_or_range_is_a_422_not_a_channel_that_fails_later(
    team, kind, key, given
):
    """A secret stored as a number made every delivery to the channel a 500: leads lost."""
    body = {"kind": kind, "name": "x", "settings": {**SETTINGS[kind], key: given}}
    error = assert_error(team.api("admin").post("/channels", body), 422)
    assert key in error["fields"], error
    assert not Channel.objects.exists()
