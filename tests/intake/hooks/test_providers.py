"""Google Ads lead forms, TikTok lead ads and Zalo OA at /hooks/<ws>/<provider>."""

import json

import pytest
from django.test import Client

from leadloop.intake.models import Delivery, Touch
from leadloop.intake.providers import _ascii_escaped
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error
from tests.intake.hooks.support import (
    SECRETS,
    body_of,
    google,
    post,
    sign,
    zalo,
)

pytestmark = pytest.mark.usefixtures("huey_immediate")


# ---------------------------------------------------------------- Google


def test_a_google_lead_is_stored_and_captured(channels):
    response = post("google", google())
    assert response.status_code == 200, response.content
    delivery = Delivery.objects.get()
    assert delivery.status == "done"
    lead = Lead.objects.get()
    assert lead.contact.full_name == "Lê Văn Tám"
    assert lead.contact.phone_e164 == "+84912345678"
    assert lead.contact.email == "tam@example.com"
    assert lead.source.key == "google" and lead.campaign.name == "Google campaign 12345678901"
    assert lead.fields["city"] == "Đà Nẵng"
    assert lead.fields["company_name"] == "Công ty TNHH Ánh Dương"
    assert lead.fields["job_title"] == "Giám đốc"
    assert lead.fields["gclid"] == "Cj0KCQiA-gclid"
    assert lead.fields["google_form_id"] == "40000000000"
    assert not lead.is_test
    assert delivery.outcomes == [
        {"ref": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "outcome": "created", "lead": lead.pk}
    ]


def test_first_and_last_name_columns(channels):
    columns = [
        {"column_id": "FIRST_NAME", "string_value": "Hương"},
        {"column_id": "LAST_NAME", "string_value": "Phạm"},
        {"column_id": "WORK_EMAIL", "string_value": "huong@congty.vn"},
    ]
    post("google", google(user_column_data=columns))
    contact = Lead.objects.get().contact
    assert (contact.full_name, contact.email) == ("Hương Phạm", "huong@congty.vn")


def test_a_google_test_lead_is_marked_as_a_test(channels):
    post("google", google(is_test=True))
    assert Lead.objects.get().is_test


@pytest.mark.parametrize("key", ["wrong", "", None, 12345, "google-khoa-bi-mat "])
def test_a_missing_or_wrong_google_key_is_a_403(channels, key):
    payload = google(google_key=key)
    if key is None:
        del payload["google_key"]
    assert_error(post("google", payload), 403)
    assert not Delivery.objects.exists()


def test_google_redeliveries_and_number_or_string_ids_make_one_lead(channels):
    post("google", google(lead_id=1234567890123456789))
    post("google", google(lead_id="1234567890123456789"))
    post("google", google(lead_id=1234567890123456789))
    assert Lead.objects.count() == 1 and Touch.objects.count() == 1
    assert Lead.objects.get().external_id == "1234567890123456789"
    outcomes = [d.outcomes[0]["outcome"] for d in Delivery.objects.order_by("id")]
    assert outcomes == ["created", "duplicate", "duplicate"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"user_column_data": "FULL_NAME"},
        {"user_column_data": [1, 2]},
        {"lead_id": None},
        {"lead_id": {"id": 1}},
        {"lead_id": 1.5},
        {"campaign_id": [1]},
    ],
)
def test_wrong_types_are_a_422(channels, overrides):
    assert_error(post("google", google(**overrides)), 422)
    assert not Delivery.objects.exists()


def test_a_google_lead_without_phone_or_email_fails_alone_with_its_reason(channels):
    post("google", google(user_column_data=[{"column_id": "FULL_NAME", "string_value": "Ẩn"}]))
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.outcomes[0]["outcome"] == "failed"
    assert delivery.error
    assert not Lead.objects.exists()


# ---------------------------------------------------------------- TikTok


def tiktok(*leads, object_=1) -> dict:
    """A TikTok lead callback; each lead is (lead id as a JSON number, name, phone)."""
    return {
        "object": object_,
        "time": 1_795_000_000,
        "entry": [
            {
                "id": lead_id,
                "page_id": 7_300_000_000_000_000_001,
                "advertiser_id": 7_100_000_000_000_000_002,
                "campaign_id": 1_790_000_000_000_003,
                "adgroup_id": 1_790_000_000_000_004,
                "ad_id": 1_790_000_000_000_005,
                "create_time": 1_795_000_000,
                "changes": [
                    {"field": "name", "value": name},
                    {"field": "phone_number", "value": phone},
                    {"field": "Bạn quan tâm khóa học nào?", "value": "IELTS 7.0"},
                ],
            }
            for lead_id, name, phone in leads
        ],
    }


def raw_tiktok(*leads) -> bytes:
    """The body with lead ids written as 19-digit JSON numbers, as TikTok sends them."""
    return json.dumps(tiktok(*leads), ensure_ascii=False).encode()


def test_a_tiktok_callback_keeps_19_digit_ids_exact(channels):
    body = raw_tiktok((7_321_456_789_012_345_678, "Võ Thị Sáu", "0987654321"))
    assert b"7321456789012345678" in body
    assert post("tiktok", body).status_code == 200
    lead = Lead.objects.get()
    assert lead.external_id == "7321456789012345678"
    assert lead.contact.full_name == "Võ Thị Sáu"
    assert lead.source.key == "tiktok"
    assert lead.campaign.name == "TikTok form 7300000000000000001"
    assert lead.fields["Bạn quan tâm khóa học nào?"] == "IELTS 7.0"
    assert lead.fields["tiktok_ad_id"] == "1790000000000005"


def test_a_tiktok_signature_over_the_ascii_escaped_body_is_accepted_too(channels):
    body = raw_tiktok((7_321_456_789_012_345_679, "Đỗ Văn Ánh", "0987654322"))
    escaped = sign("tiktok", _ascii_escaped(body))
    assert post("tiktok", body, headers=escaped, signed=False).status_code == 200
    assert Lead.objects.get().contact.full_name == "Đỗ Văn Ánh"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Open-Signature": "0" * 64}, {"X-Open-Signature": "không-phải-hex"}],
)
def test_a_missing_or_wrong_tiktok_signature_is_a_403(channels, headers):
    body = raw_tiktok((1, "A", "0987654321"))
    assert_error(post("tiktok", body, headers=headers, signed=False), 403)
    assert not Delivery.objects.exists()


def test_a_tiktok_batch_with_a_bad_entry_and_a_duplicate(channels):
    payload = tiktok(
        (7_000_000_000_000_000_001, "Một", "0911000001"),
        (7_000_000_000_000_000_002, "Hai", "0911000002"),
        (7_000_000_000_000_000_001, "Một", "0911000001"),
    )
    payload["entry"].insert(1, {"id": True, "changes": []})
    post("tiktok", payload)
    delivery = Delivery.objects.get()
    assert [o["outcome"] for o in delivery.outcomes] == [
        "created",
        "failed",
        "created",
        "duplicate",
    ]
    assert Lead.objects.count() == 2
    post("tiktok", payload)  # TikTok delivers at least once
    assert Lead.objects.count() == 2 and Touch.objects.count() == 2


def test_other_tiktok_notifications_are_stored_and_acknowledged(channels):
    assert post("tiktok", {"object": 2, "entry": [{"id": 5}]}).status_code == 200
    assert Delivery.objects.get().status == "ignored"
    assert not Lead.objects.exists()


# ---------------------------------------------------------------- Zalo


def test_a_zalo_user_submit_info_becomes_a_lead(channels):
    assert post("zalo", zalo()).status_code == 200
    lead = Lead.objects.get()
    assert lead.contact.full_name == "Hoàng Thị Lan"
    assert lead.contact.phone_e164 == "+84912345679"
    assert lead.source.key == "zalo"
    assert lead.external_id == "2468458835296117922:1795000000123"
    assert lead.fields["district"] == "Quận 1" and lead.fields["ward"] == "Phường Bến Thành"
    assert lead.fields["zalo_user_id"] == "2468458835296117922"


def test_zalo_retries_are_one_lead_and_a_later_submission_is_a_touch(channels):
    post("zalo", zalo())
    post("zalo", zalo())
    assert Touch.objects.count() == 1
    post("zalo", zalo(timestamp="1795000999000"))  # the same person submits again later
    assert Lead.objects.count() == 1 and Touch.objects.count() == 2


def test_a_zalo_message_id_is_the_key_when_present(channels):
    payload = zalo()
    payload["message"] = {"msg_id": "a1b2c3d4e5"}
    post("zalo", payload)
    assert Lead.objects.get().external_id == "a1b2c3d4e5"


def test_other_zalo_events_are_stored_and_acknowledged_without_a_lead(channels):
    payload = zalo(event="user_send_text")
    payload["message"] = {"text": "Xin chào shop", "msg_id": "m1"}
    assert post("zalo", payload).status_code == 200
    assert Delivery.objects.get().status == "ignored"
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-ZEvent-Signature": "mac=" + "0" * 64}, {"X-ZEvent-Signature": "0" * 64}],
)
def test_a_missing_or_wrong_zalo_mac_is_a_403(channels, headers):
    assert_error(post("zalo", zalo(), headers=headers, signed=False), 403)
    assert not Delivery.objects.exists()


def test_the_zalo_mac_is_a_plain_sha256_of_app_id_body_timestamp_and_secret(channels):
    import hashlib
    import hmac

    body = body_of(zalo())
    as_hmac = hmac.new(SECRETS["zalo"]["oa_secret_key"].encode(), body, "sha256").hexdigest()
    assert_error(
        post("zalo", body, headers={"X-ZEvent-Signature": f"mac={as_hmac}"}, signed=False), 403
    )
    s = SECRETS["zalo"]
    plain = hashlib.sha256(
        (s["app_id"]).encode() + body + b"1795000000123" + s["oa_secret_key"].encode()
    ).hexdigest()
    assert (
        post("zalo", body, headers={"X-ZEvent-Signature": f"mac={plain}"}, signed=False).status_code
        == 200
    )


@pytest.mark.parametrize(
    "payload",
    [
        {**zalo(), "info": "tên"},
        {**zalo(), "sender": "2468"},
        {**zalo(), "sender": {"id": None}},
    ],
)
def test_a_malformed_zalo_lead_event_is_a_422(channels, payload):
    assert_error(post("zalo", payload), 422)


# ---------------------------------------------------------------- every provider


@pytest.mark.parametrize("provider", ["google", "tiktok", "zalo"])
def test_another_workspace_is_a_404(channels, other_team, provider):
    assert_error(post(provider, zalo(), workspace="rival"), 404)
    assert_error(Client().post(f"/hooks/nobody/{provider}", {}), 404)


@pytest.mark.parametrize("provider", ["google", "tiktok", "zalo"])
def test_malformed_json_and_huge_bodies_are_4xx(channels, provider):
    for raw in (b"{oops", b"\xc3\x28", b'"text"'):
        headers = {"X-Open-Signature": sign("tiktok", raw)["X-Open-Signature"]}
        assert_error(post(provider, raw, headers=headers, signed=False), 400)
    huge = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    assert_error(post(provider, huge, signed=False), 413)
    assert not Delivery.objects.exists()


def test_a_second_channel_of_a_provider_is_a_409(channels, team):
    again = {"kind": "google", "name": "Again", "settings": {"google_key": "x"}}
    assert_error(team.api("admin").post("/channels", again), 409, "channel_exists")
