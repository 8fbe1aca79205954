"""The website form hook /hooks/<workspace>/forms/<key>: capture, UTM, honeypot, CORS, errors."""

import json
import unicodedata
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from leadloop.campaigns.models import Campaign, Source
from leadloop.intake.forms_intake import urlencoded_fields
from leadloop.intake.models import Channel, Touch
from leadloop.intake.services import channel_create
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error

ORIGIN = "https://shop.example.vn"


@pytest.fixture
def form(team) -> Channel:
    return channel_create(
        workspace=team.workspace,
        actor=team.actors["marketer"],
        kind="form",
        name="Landing Tết",
        settings={"allowed_origins": [ORIGIN]},
    )


def url(channel: Channel, workspace: str | None = None) -> str:
    return f"/hooks/{workspace or channel.workspace.slug}/forms/{channel.key}"


def post_json(path: str, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return Client().post(path, data=data, content_type="application/json", headers=headers)


FORM = {
    "ho_ten": "Nguyễn Thị Hoa",
    "sdt": "0912 345 678",
    "email": "hoa@example.com",
    "ngan_sach": "3 tỷ",
    "utm_source": "facebook",
    "utm_medium": "cpc",
    "utm_campaign": "Tết 2027",
    "utm_content": "carousel",
    "utm_term": "chung cu",
}


def test_urlencoded_post_creates_a_form_lead_and_keeps_the_raw_payload(form):
    assert not Source.objects.filter(key="website").exists()
    assert not Campaign.objects.filter(key="tet-2027").exists()
    response = Client().post(url(form), FORM)
    assert response.status_code == 200
    lead = Lead.objects.get()
    assert lead.workspace == form.workspace
    assert lead.contact.full_name == "Nguyễn Thị Hoa"
    assert lead.contact.phone_e164 == "+84912345678"
    assert lead.contact.email == "hoa@example.com"
    touch = Touch.objects.get()
    assert touch.kind == "form"
    assert touch.channel == form
    assert touch.raw == FORM
    assert touch.fields == {"ngan_sach": "3 tỷ"}
    assert touch.utm == {k: v for k, v in FORM.items() if k.startswith("utm_")}
    assert (lead.utm_source, lead.utm_medium, lead.utm_term) == ("facebook", "cpc", "chung cu")
    # the source and the campaign are created on first use
    assert lead.source == Source.objects.get(workspace=form.workspace, key="website")
    assert lead.campaign == Campaign.objects.get(workspace=form.workspace, key="tet-2027")
    assert lead.owner is not None and lead.owner.role == "sales"


def test_json_post_creates_a_lead_and_answers_json(form):
    body = {
        "name": "Trần Văn Bình",
        "phone": "+84 987 654 321",
        "message": "Gọi sau 5h",
        "campaign": "Hè 2026",
        "source": "landing-he",
        "extra": ["a", "b"],
    }
    response = post_json(url(form), body)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    lead = Lead.objects.get()
    assert lead.note == "Gọi sau 5h"
    assert (lead.source.key, lead.campaign.key) == ("landing-he", "he-2026")
    touch = Touch.objects.get()
    assert touch.kind == "form"
    assert touch.raw["name"] == "Trần Văn Bình"
    assert touch.raw["extra"] == "a, b"


def test_the_same_person_twice_is_one_lead_with_two_touches(form):
    Client().post(url(form), FORM)
    Client().post(url(form), {"ho_ten": "Hoa", "sdt": "+84912345678"})
    assert Lead.objects.count() == 1
    assert Touch.objects.count() == 2


@pytest.mark.parametrize("trap", ["website", "_gotcha"])
def test_honeypot_filled_answers_200_and_stores_nothing(form, trap):
    response = Client().post(url(form), {**FORM, trap: "http://spam.example"})
    assert response.status_code == 200
    json_response = post_json(url(form), {**FORM, trap: "spam"})
    assert json_response.status_code == 200
    assert not Lead.objects.exists()
    assert not Touch.objects.exists()


def test_empty_honeypot_is_not_spam(form):
    Client().post(url(form), {**FORM, "website": ""})
    assert Lead.objects.count() == 1


def test_preflight_from_an_allowed_origin_is_a_204_with_cors_headers(form):
    response = Client().options(
        url(form),
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"].lower()
    assert "Origin" in response["Vary"]


def test_post_from_an_allowed_origin_carries_the_cors_header(form):
    response = post_json(url(form), {"phone": "0912345678"}, Origin=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_another_origin_is_refused_on_preflight_and_post(form):
    evil = "https://evil.example"
    preflight = Client().options(url(form), headers={"Origin": evil})
    assert_error(preflight, 403)
    assert "Access-Control-Allow-Origin" not in preflight
    post = post_json(url(form), {"phone": "0912345678"}, Origin=evil)
    assert_error(post, 403)
    assert post["Access-Control-Allow-Origin"] == evil  # the site's script may show why
    page = Client().post(url(form), FORM, headers={"Origin": evil, "Accept": "text/html"})
    assert (page.status_code, page["Content-Type"]) == (403, "text/html; charset=utf-8")
    assert "Trang web này không được phép gửi vào form." in page.content.decode()
    assert not Lead.objects.exists()
    # a look-alike of the allowed origin is another origin
    assert_error(Client().options(url(form), headers={"Origin": ORIGIN + ".evil.example"}), 403)


def test_a_wildcard_allows_any_origin(team):
    channel = channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind="form",
        name="Open",
        settings={"allowed_origins": ["*"]},
    )
    response = Client().options(url(channel), headers={"Origin": "https://anyone.example"})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://anyone.example"


def test_unknown_form_key_or_another_workspace_is_a_404(form, other_team):
    assert_error(Client().post(f"/hooks/acme/forms/{form.key}x", FORM), 404)
    assert_error(Client().post(url(form, workspace="rival"), FORM), 404)
    assert_error(Client().post(url(form, workspace="nobody"), FORM), 404)
    assert not Lead.objects.exists()


def test_a_non_form_channel_key_is_not_a_form(team):
    facebook = channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind="facebook",
        name="Page",
        settings={"verify_token": "v"},
    )
    assert_error(Client().post(url(facebook), FORM), 404)


@pytest.mark.parametrize(
    "raw", ["{bad", "[1, 2]", '"text"', "42", '{"a": }', "[" * 5000 + "]" * 5000, '{"a":' * 5000]
)
def test_malformed_or_non_object_json_is_a_400_json(form, raw):
    assert_error(post_json(url(form), raw), 400, "malformed_json")
    assert not Lead.objects.exists()


def test_a_submission_without_phone_or_email_is_a_422_json(form):
    error = assert_error(post_json(url(form), {"name": "Chỉ tên"}), 422)
    assert {"phone", "email"} <= set(error["fields"])
    assert_error(Client().post(url(form), {"name": "Chỉ tên"}), 422)


def test_get_is_refused(form):
    response = Client().get(url(form))
    assert_error(response)


def test_redirect_url_setting_sends_the_browser_on(team):
    channel = channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind="form",
        name="Redirecting",
        settings={"redirect_url": "https://shop.example.vn/cam-on"},
    )
    response = Client().post(url(channel), FORM)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.vn/cam-on"
    assert Lead.objects.count() == 1


def test_oversized_and_hostile_form_posts_are_4xx(form):
    big = Client().post(
        url(form), {"sdt": "0912345678", "note": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    )
    assert_error(big, 413, "payload_too_large")
    many = Client().post(url(form), {f"f{i}": "v" for i in range(3000)})
    assert_error(many, 400, "bad_request")
    big_json = post_json(
        url(form), {"sdt": "0912345678", "x": "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    )
    assert_error(big_json, 413, "payload_too_large")
    assert not Lead.objects.exists()


def test_long_values_and_many_fields_are_capped_not_refused(form):
    body = {
        "sdt": "0912345678",
        "ho_ten": "A" * 5000,
        **{f"field_{i}": "v" * 3000 for i in range(80)},
    }
    response = Client().post(url(form), body)
    assert response.status_code == 200
    touch = Touch.objects.get()
    assert len(touch.fields) <= 50
    assert all(len(v) <= 2000 for v in touch.raw.values())
    assert len(Lead.objects.get().contact.full_name) <= 200


def test_nul_characters_in_a_form_are_dropped_not_a_5xx(form):
    response = Client().post(url(form), {"sdt": "0912345678", "ho_ten": "Hoa\x00", "x\x00": "y"})
    assert response.status_code == 200
    response = post_json(url(form), {"sdt": "0912345679", "ho_ten": "Lan\x00"})
    assert response.status_code == 200
    names = sorted(lead.contact.full_name for lead in Lead.objects.all())
    assert names == ["Hoa", "Lan"]
    assert Touch.objects.filter(fields={"x": "y"}).exists()


@pytest.mark.parametrize("content_type", ["; charset=windows-1258", ""])
def test_a_form_on_an_older_page_posting_windows_1258_keeps_its_vietnamese(form, content_type):
    """Browsers post a form in its page's encoding, mostly without naming it."""
    fields = {"ho_ten": "Trần Thị Hương", "sdt": "0912 345 678", "ghi_chu": "Giá bao nhiêu?"}
    body = urlencode({k: _windows_1258(v) for k, v in fields.items()})
    response = Client().post(
        url(form), body, content_type="application/x-www-form-urlencoded" + content_type
    )
    assert response.status_code == 200
    lead = Lead.objects.get()
    assert lead.contact.full_name == "Trần Thị Hương"  # stored composed, as typed
    assert lead.note == "Giá bao nhiêu?"


def test_a_byte_order_mark_before_the_first_field_is_not_part_of_its_name(form):
    body = "\ufeffho_ten=Lê Văn Tám&sdt=0912345678".encode()
    response = Client().post(url(form), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Lead.objects.get().contact.full_name == "Lê Văn Tám"


@pytest.mark.parametrize("charset", ["base64", "rot13", "zlib", "idna"])
def test_a_charset_that_is_no_text_encoding_reads_as_if_none_were_named(form, charset):
    body = urlencode({"ho_ten": "Lê Văn Tám", "sdt": "0912345678"}).encode()
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    sent = Client().generic("POST", url(form), body, content_type=content_type)  # bytes as they are
    assert sent.status_code == 200
    assert Lead.objects.get().contact.full_name == "Lê Văn Tám"


def test_one_field_that_is_not_utf8_leaves_the_others_as_they_are(form):
    body = urlencode({"ho_ten": "Nguyễn Thị Hương", "sdt": "0912345678"}) + "&utm_term=%FF"
    content_type = "application/x-www-form-urlencoded"
    assert Client().post(url(form), body, content_type=content_type).status_code == 200
    assert Lead.objects.get().contact.full_name == "Nguyễn Thị Hương"


def _windows_1258(text: str) -> bytes:
    """As Windows writes Vietnamese in Windows-1258: a letter with its circumflex, breve or horn
    where the code page has it, and the tone as a combining mark after it."""
    out = b""
    for letter in text:
        base, *marks = unicodedata.normalize("NFD", letter)
        tones = [m for m in marks if m in TONES]
        kept = unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in TONES))
        out += (kept + "".join(tones)).encode("cp1258")
    return out


TONES = "\u0300\u0301\u0303\u0309\u0323"


@given(
    st.binary(max_size=300),
    st.sampled_from([None, "utf-8", "windows-1258", "nonsense", "base64", "rot13"]),
)
def test_any_urlencoded_body_reads_without_raising(body, charset):
    fields = urlencoded_fields(body, charset, max_fields=1000)
    assert all(isinstance(v, str) for values in fields.values() for v in values)


def consent_form(team, **settings) -> Channel:
    return channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind="form",
        name="Đăng ký tư vấn",
        settings={"consent_text": "Tôi đồng ý để cửa hàng gọi điện tư vấn.", **settings},
    )


def test_a_form_with_consent_text_records_the_consent_with_the_touch(team):
    channel = consent_form(team)
    page = "https://shop.example.vn/lien-he"
    response = Client().post(url(channel), {**FORM, "consent": "yes"}, headers={"Referer": page})
    assert response.status_code == 200
    touch = Touch.objects.get()
    assert touch.consent["text"] == "Tôi đồng ý để cửa hàng gọi điện tư vấn."
    assert touch.consent["given"] is True
    assert (touch.consent["channel"], touch.consent["page"]) == ("Đăng ký tư vấn", page)
    assert touch.consent["at"].startswith(str(touch.received_at.date()))
    assert "consent" not in touch.fields


def test_a_form_with_consent_text_refuses_a_post_without_the_box_ticked(team):
    channel = consent_form(team)
    error = assert_error(post_json(url(channel), {"phone": "0912345678"}), 422, "consent_required")
    assert "consent" in error["fields"]
    assert not Lead.objects.exists()


def test_a_form_without_consent_text_records_no_consent(form):
    Client().post(url(form), FORM)
    assert Touch.objects.get().consent == {}


def test_utm_parameters_come_from_the_page_when_the_form_has_none(form):
    page = "https://shop.example.vn/?utm_source=zalo&utm_campaign=Khai+tr%C6%B0%C6%A1ng&x=1"
    Client().post(url(form), {"ho_ten": "Lan", "sdt": "0912345678"}, headers={"Referer": page})
    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_campaign) == ("zalo", "Khai trương")
    assert lead.campaign.name == "Khai trương"


@pytest.mark.parametrize("page", ["http://[::1/?utm_source=x", "không phải địa chỉ", "//"])
def test_a_referer_that_is_no_url_is_ignored(form, page):
    response = Client().post(url(form), {"sdt": "0912345678"}, headers={"Referer": page})
    assert response.status_code == 200
    assert Lead.objects.get().utm_source == ""


def test_form_utm_fields_win_over_the_page(form):
    page = "https://shop.example.vn/?utm_source=zalo"
    Client().post(url(form), FORM, headers={"Referer": page})
    assert Lead.objects.get().utm_source == "facebook"


def test_too_many_posts_from_one_address_are_429_with_retry_after(team):
    channel = consent_form(team, rate_limit="3")
    for n in range(3):
        body = {"phone": f"091234567{n}", "consent": "on"}
        assert post_json(url(channel), body).status_code == 200
    response = post_json(url(channel), {"phone": "0912345679", "consent": "on"})
    assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == "60"
    other = Client(REMOTE_ADDR="10.0.0.9").post(
        url(channel), {"phone": "0912345679", "consent": "on"}
    )
    assert other.status_code == 200  # another address has its own allowance
    assert Lead.objects.count() == 4


def test_a_browser_posting_without_script_sees_an_error_page(team):
    channel = consent_form(team)
    back = "https://shop.example.vn/lien-he"
    response = Client().post(
        url(channel), {"phone": "0912345678"}, headers={"Accept": "text/html", "Referer": back}
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "text/html; charset=utf-8"  # not JSON's, for a page
    html = response.content.decode()
    assert "Hãy đánh dấu ô đồng ý để gửi biểu mẫu." in html  # Vietnamese unless asked otherwise
    assert f'href="{back}"' in html


def test_only_post_and_its_preflight_are_allowed(form):
    response = Client().get(url(form))
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST, OPTIONS"
