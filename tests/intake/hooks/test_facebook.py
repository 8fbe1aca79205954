"""Facebook Lead Ads at /hooks/<ws>/facebook: handshake, signatures, the raw inbox, the Graph API
stand-in that fails and recovers, batches, duplicates and out-of-order deliveries."""

import json
import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from huey.contrib.djhuey import HUEY

from leadloop.campaigns.models import Campaign
from leadloop.intake.inbox import RETRY_DELAYS, delivery_process
from leadloop.intake.models import Channel, Delivery, FacebookForm, Touch
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error
from tests.intake.hooks.support import (
    SECRETS,
    body_of,
    leadgen,
    make_channels,
    post,
    sign,
)

pytestmark = pytest.mark.usefixtures("huey_immediate")
HUB = {"hub.mode": "subscribe", "hub.verify_token": SECRETS["facebook"]["verify_token"]}


def test_the_verification_handshake_echoes_the_challenge(channels):
    response = Client().get("/hooks/acme/facebook", {**HUB, "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.content == b"1158201444"
    wrong = {**HUB, "hub.verify_token": "doan-bua", "hub.challenge": "1"}
    assert_error(Client().get("/hooks/acme/facebook", wrong), 403)
    assert_error(Client().get("/hooks/acme/facebook", {**HUB, "hub.mode": "unsubscribe"}), 403)


def test_another_workspace_or_no_channel_is_a_404(channels, other_team):
    assert_error(Client().get("/hooks/rival/facebook", {**HUB, "hub.challenge": "1"}), 404)
    assert_error(post("facebook", leadgen((1, 2)), workspace="rival"), 404)
    assert_error(post("facebook", leadgen((1, 2)), workspace="nobody"), 404)
    assert_error(post("instagram", leadgen((1, 2)), signed=False), 404)
    assert not Delivery.objects.exists()


def test_a_switched_off_channel_is_a_404_and_its_settings_are_read_whole(channels):
    assert post("facebook", leadgen((1, 2))).status_code == 200  # the JSON settings, as a dict
    channels["facebook"].active = False
    channels["facebook"].save(update_fields=["active"])
    assert_error(post("facebook", leadgen((1, 2))), 404)
    assert_error(Client().get("/hooks/acme/facebook", {**HUB, "hub.challenge": "1"}), 404)
    assert Delivery.objects.count() == 1


def test_a_delivery_is_stored_raw_then_processed_into_a_lead(channels, graph):
    graph.add(
        "1234567890123456",
        name="Nguyễn Thị Hoa",
        email="hoa@example.com",
        city="Hà Nội",
        ngan_sach_du_kien="2 tỷ",
    )
    body = body_of(leadgen(("1234567890123456", "5550001")))
    response = post("facebook", body, headers={"User-Agent": "facebookexternalua"})
    assert response.status_code == 200, response.content
    delivery = Delivery.objects.get()
    assert response.json() == {"ok": True, "delivery": delivery.pk}
    assert bytes(delivery.body) == body
    assert delivery.headers["X-Hub-Signature-256"].startswith("sha256=")
    assert delivery.headers["User-Agent"] == "facebookexternalua"
    assert delivery.remote_addr == "127.0.0.1"
    assert delivery.provider == "facebook" and delivery.channel == channels["facebook"]
    assert (delivery.status, delivery.attempts, delivery.error) == ("done", 1, "")
    lead = Lead.objects.get()
    assert delivery.outcomes == [{"ref": "1234567890123456", "outcome": "created", "lead": lead.pk}]
    assert lead.contact.full_name == "Nguyễn Thị Hoa"
    assert lead.contact.phone_e164 == "+84912345678"
    assert lead.contact.email == "hoa@example.com"
    assert lead.source.key == "facebook"
    assert lead.campaign == Campaign.objects.get(
        workspace=lead.workspace, name="Facebook form 5550001"
    )
    assert lead.external_id == "1234567890123456"
    assert lead.fields["city"] == "Hà Nội"
    assert lead.fields["ngan_sach_du_kien"] == "2 tỷ"
    assert lead.fields["facebook_ad_id"] == "238000222"
    touch = Touch.objects.get()
    assert (touch.kind, touch.channel, touch.external_id) == (
        "webhook",
        channels["facebook"],
        "1234567890123456",
    )
    assert graph.lead_reads() == ["/v21.0/1234567890123456"]
    assert FacebookForm.objects.filter(form_id="5550001", synced_until=None).exists()


def test_first_and_last_name_make_the_full_name(channels, graph):
    graph.leads["77"] = {
        "id": "77",
        "field_data": [
            {"name": "first_name", "values": ["An"]},
            {"name": "last_name", "values": ["Trần Văn"]},
            {"name": "phone_number", "values": ["+84 98 765 4321"]},
            {"name": "ban_muon_mua_gi", "values": ["Căn hộ", "Nhà phố"]},
        ],
    }
    post("facebook", leadgen((77, 5)))
    lead = Lead.objects.get()
    assert lead.contact.full_name == "An Trần Văn"
    assert lead.fields["ban_muon_mua_gi"] == "Căn hộ, Nhà phố"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "md5=abc"},
        {"X-Hub-Signature-256": "sha256=chữ-ký-sai"},
    ],
)
def test_a_missing_or_wrong_signature_is_a_403_and_nothing_is_stored(channels, graph, headers):
    response = post("facebook", leadgen((1, 2)), headers=headers, signed=False)
    assert_error(response, 403)
    assert not Delivery.objects.exists()
    assert graph.requests == []


def test_a_signature_with_another_secret_is_refused_and_the_channel_page_says_so(team, channels):
    body = body_of(leadgen((1, 2)))
    other = sign("facebook", body, {**SECRETS["facebook"], "app_secret": "someone-else"})
    channel = channels["facebook"]
    page = f"/settings/channels/{channel.pk}/?lang=en"
    client = team.browser_client("admin")
    assert 'id="refused"' not in client.get(page).content.decode()
    with CaptureQueriesContext(connection) as first:
        assert_error(post("facebook", body, headers=other, signed=False), 403)
    noted = Channel.objects.get(pk=channel.pk).refused_at
    assert noted is not None and any("UPDATE" in q["sql"] for q in first.captured_queries)
    with CaptureQueriesContext(connection) as again:  # within the minute: no write
        assert_error(post("facebook", body, headers=other, signed=False), 403)
    assert not any("UPDATE" in q["sql"] for q in again.captured_queries)
    assert post("facebook", leadgen((1, 2))).status_code == 200  # a right one notes nothing
    assert Channel.objects.get(pk=channel.pk).refused_at == noted
    said = client.get(page).content.decode().split('id="refused">')[1].split("</p>")[0]
    assert said.startswith("A delivery was refused at ") and "wrong signature" in said
    form = {"name": "Facebook", "active": "on"}
    assert client.post(f"/settings/channels/{channel.pk}/", form).status_code == 302
    assert Channel.objects.get(pk=channel.pk).refused_at is None  # saved: cleared


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"object": "page", "entry": NaN}', 400),
        (b"\xff\xfe\x00garbage", 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        ({"object": "page", "entry": "nope"}, 422),
        ({"object": "page", "entry": [{"changes": {"field": "leadgen"}}]}, 422),
        ({"object": "page", "entry": [1, 2]}, 422),
    ],
)
def test_malformed_signed_bodies_are_4xx_json_and_not_stored(channels, payload, status):
    assert_error(post("facebook", payload), status)
    assert not Delivery.objects.exists()


def test_a_body_over_the_limit_is_a_413(channels):
    huge = leadgen(*[(10**15 + i, 1) for i in range(8000)])
    assert len(body_of(huge)) > 1024 * 1024
    assert_error(post("facebook", huge), 413, "payload_too_large")
    assert not Delivery.objects.exists()


def test_get_without_handshake_params_and_other_methods(channels):
    assert_error(Client().put("/hooks/acme/facebook"), 405)
    assert_error(Client().get("/hooks/acme/google"), 405)


def test_ids_as_numbers_and_strings_are_one_lead(channels, graph):
    graph.add("9007199254740993123")  # beyond a float's exact integers
    post("facebook", leadgen((9007199254740993123, 1)))
    post("facebook", leadgen(("9007199254740993123", "1")))
    lead = Lead.objects.get()
    assert lead.external_id == "9007199254740993123"
    assert Touch.objects.count() == 1
    assert [d.outcomes[0]["outcome"] for d in Delivery.objects.order_by("id")] == [
        "created",
        "duplicate",
    ]
    assert len(graph.lead_reads()) == 1  # a known lead costs no Graph call


def test_a_batch_of_a_thousand_changes_makes_a_thousand_leads_once(channels, graph):
    ids = [10**15 + i for i in range(1000)]
    for n, leadgen_id in enumerate(ids):
        graph.add(leadgen_id, name=f"Khách {n}", phone=f"091{n:07d}")
    response = post("facebook", leadgen(*[(i, 42) for i in ids]))
    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert delivery.status == "done", delivery.error
    assert Lead.objects.count() == 1000
    assert {o["outcome"] for o in delivery.outcomes} == {"created"}
    # Facebook delivers the same batch again: nothing new, no Graph call
    reads = len(graph.lead_reads())
    post("facebook", leadgen(*[(i, 42) for i in ids]))
    assert Lead.objects.count() == 1000 and Touch.objects.count() == 1000
    assert len(graph.lead_reads()) == reads


def test_one_bad_change_does_not_block_the_others(channels, graph):
    graph.add(1, phone="0912000001")
    graph.add(3, phone="0912000003")
    graph.leads["2"] = {"id": "2", "field_data": [{"name": "full_name", "values": ["Không SĐT"]}]}
    payload = leadgen((1, 9), (2, 9), (3, 9))
    payload["entry"][0]["changes"].insert(1, {"field": "leadgen", "value": {"leadgen_id": 1.5}})
    payload["entry"][0]["changes"].append({"field": "feed", "value": {"item": "status"}})
    post("facebook", payload)
    delivery = Delivery.objects.get()
    outcomes = [(o["ref"], o["outcome"]) for o in delivery.outcomes]
    assert outcomes == [("1", "created"), ("1.5", "failed"), ("2", "failed"), ("3", "created")]
    assert delivery.status == "failed"
    assert "leadgen_id" in delivery.error
    assert Lead.objects.count() == 2


def test_the_page_token_is_in_no_log_line(channels, graph, caplog):
    caplog.set_level(logging.DEBUG)
    graph.add(1, phone="0912000001")
    post("facebook", leadgen((1, 9)))
    assert Lead.objects.count() == 1 and graph.lead_reads()
    token = SECRETS["facebook"]["page_access_token"]
    assert caplog.records and not [r for r in caplog.records if token in r.getMessage()]


def test_an_id_that_is_not_digits_is_refused_before_the_graph_api_is_asked(channels, graph):
    graph.add(1, phone="0912000001")
    payload = leadgen((1, 9))
    for value in ({"leadgen_id": "../../me"}, {"leadgen_id": "2", "form_id": "a?b=c#"}):
        payload["entry"][0]["changes"].append({"field": "leadgen", "value": value})
    reads = len(graph.lead_reads())
    post("facebook", payload)
    delivery = Delivery.objects.get()
    outcomes = [(o["ref"], o["outcome"]) for o in delivery.outcomes]
    assert outcomes == [("1", "created"), ("../../me", "failed"), ("2", "failed")]
    assert len(graph.lead_reads()) == reads + 1  # only lead 1's answers were asked for
    assert "leadgen_id" in delivery.error and Lead.objects.count() == 1


def test_out_of_order_and_repeated_deliveries_make_each_lead_once(channels, graph):
    for i in (1, 2, 3):
        graph.add(i, phone=f"090000000{i}")
    for batch in [(3,), (1, 3), (2,), (1,), (2, 3, 1)]:
        post("facebook", leadgen(*[(i, 7) for i in batch]))
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["1", "2", "3"]
    assert Touch.objects.count() == 3


def test_the_graph_api_fails_refuses_then_recovers_and_the_leads_arrive_once(channels, graph):
    graph.add(501, phone="0912000501")
    graph.add(502, phone="0912000502", email="b@example.com")
    graph.set_mode("500")
    post("facebook", leadgen((501, 8), (502, 8)))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert "500" in delivery.error
    assert not Lead.objects.exists()
    scheduled = HUEY.scheduled()
    assert len(scheduled) == 1 and scheduled[0].args == (delivery.pk,)
    assert delivery.next_attempt_at is not None

    graph.set_mode("down")  # connection refused
    delivery = delivery_process(delivery_id=delivery.pk)
    assert (delivery.status, delivery.attempts) == ("retrying", 2)
    assert "ConnectError" in delivery.error
    assert not Lead.objects.exists()

    graph.set_mode("ok")
    post("facebook", leadgen((502, 8)))  # Facebook's own retry arrives meanwhile
    delivery = delivery_process(delivery_id=delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.error) == ("done", 3, "")
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["501", "502"]
    assert Touch.objects.count() == 2
    assert [o["outcome"] for o in delivery.outcomes] == ["created", "duplicate"]
    # a late retry of the task changes nothing
    assert delivery_process(delivery_id=delivery.pk) is None
    assert Delivery.objects.get(pk=delivery.pk).attempts == 3


def test_a_delivery_failing_past_its_retries_is_kept_failed_with_its_reason(channels, graph):
    graph.add(601)
    graph.set_mode("500")
    post("facebook", leadgen((601, 1)))
    delivery = Delivery.objects.get()
    for _attempt in RETRY_DELAYS:
        delivery = delivery_process(delivery_id=delivery.pk)
    assert delivery.status == "failed"
    assert delivery.attempts == len(RETRY_DELAYS) + 1
    assert "Graph API" in delivery.error and "500" in delivery.error
    assert delivery.outcomes[0]["ref"] == "601"
    assert not Lead.objects.exists()


def test_an_expired_page_token_is_retried_until_it_is_fixed(channels, graph):
    graph.add(701)
    channel = channels["facebook"]
    channel.settings = {**channel.settings, "page_access_token": "expired"}
    channel.save()
    post("facebook", leadgen((701, 1)))
    delivery = Delivery.objects.get()
    assert delivery.status == "retrying" and "190" in delivery.error
    channel.settings = SECRETS["facebook"]
    channel.save()
    assert delivery_process(delivery_id=delivery.pk).status == "done"
    assert Lead.objects.get().external_id == "701"


def test_a_lead_the_graph_api_does_not_know_fails_at_once_not_for_hours(channels, graph):
    """A deleted lead (404, code 100) will not come back: no retries for 8.6 hours."""
    graph.add(711, phone="0912000711")
    post("facebook", leadgen((711, 1), (712, 1)))  # 712: deleted meanwhile
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.next_attempt_at is None and not HUEY.scheduled()
    outcomes = {o["ref"]: o for o in delivery.outcomes}
    assert outcomes["711"]["outcome"] == "created"
    assert outcomes["712"]["outcome"] == "failed" and not outcomes["712"]["retry"]
    assert "404" in outcomes["712"]["error"]
    assert Lead.objects.get().external_id == "711"


def test_two_workspaces_each_get_their_own_lead(channels, graph, other_team):
    make_channels(other_team)
    graph.add(801)
    post("facebook", leadgen((801, 1)))
    post("facebook", leadgen((801, 1)), workspace="rival")
    assert Lead.objects.filter(workspace=other_team.workspace).count() == 1
    assert Lead.objects.filter(workspace__slug="acme").count() == 1


def test_vietnamese_text_arrives_intact(channels, graph):
    graph.add(901, name="Đặng Thị Ngọc Ánh", ghi_chu="Gọi sau 17h, ở Thủ Đức")
    post("facebook", leadgen((901, 1)))
    lead = Lead.objects.get()
    assert lead.contact.full_name == "Đặng Thị Ngọc Ánh"
    assert lead.fields["ghi_chu"] == "Gọi sau 17h, ở Thủ Đức"
    assert json.loads(bytes(Delivery.objects.get().body))["object"] == "page"
