"""POST /api/v1/leads and /leads/bulk against CONTRACT.md "Leads": shape, de-duplication,
idempotency, external ids and bulk results."""

import re
from datetime import date, timedelta

import pytest

from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.intake.models import IdempotencyRecord, Touch
from leadloop.pipeline.models import Lead, LeadEvent
from tests.core.support import ISO_LOCAL, assert_error, at, capture, local

FULL_BODY = {
    "full_name": "Nguyễn Văn An",
    "phone": "0912 345 678",
    "email": "an@example.com",
    "source": "facebook",
    "campaign": "tet-2027",
    "external_id": "fb-lead-1",
    "utm_source": "fb",
    "utm_medium": "cpc",
    "utm_campaign": "tet",
    "utm_content": "video",
    "utm_term": "can ho",
    "note": "Gọi buổi tối",
    "fields": {"budget": "2 tỷ", "district": "Cầu Giấy"},
}
ANSWER_KEYS = {
    "id",
    "contact_id",
    "created",
    "duplicate_of",
    "returning",
    "stage",
    "owner",
    "quality",
    "created_at",
}


def test_new_lead_answers_201_with_exactly_the_contract_shape(team):
    api = team.api("marketer")
    response = api.post("/leads", FULL_BODY)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ANSWER_KEYS
    lead = Lead.objects.get(pk=body["id"])
    assert body["contact_id"] == lead.contact_id
    assert body["created"] is True
    assert body["duplicate_of"] is None
    assert body["returning"] is False
    assert body["stage"] == "new"
    sales = {team.members["sales"].id: "Sales Một", team.members["sales2"].id: "Sales Hai"}
    assert set(body["owner"]) == {"id", "name"}
    assert sales[body["owner"]["id"]] == body["owner"]["name"]
    assert body["quality"] == {
        "phone_e164": "+84912345678",
        "phone_valid": True,
        "email_valid": True,
        "issues": [],
    }
    assert re.match(ISO_LOCAL, body["created_at"]), body["created_at"]
    # what was stored
    assert lead.workspace == team.workspace
    assert lead.owner_id == body["owner"]["id"]
    assert (lead.source.key, lead.campaign.key) == ("facebook", "tet-2027")
    assert lead.fields == {"budget": "2 tỷ", "district": "Cầu Giấy"}
    assert (lead.utm_source, lead.utm_medium, lead.utm_term) == ("fb", "cpc", "can ho")
    assert lead.note == "Gọi buổi tối"
    contact = lead.contact
    assert (contact.full_name, contact.phone_e164, contact.email) == (
        "Nguyễn Văn An",
        "+84912345678",
        "an@example.com",
    )
    touch = Touch.objects.get(lead=lead)
    assert touch.kind == "api"
    assert touch.raw["full_name"] == "Nguyễn Văn An"
    assert touch.raw["fields"] == FULL_BODY["fields"]
    assert touch.utm == {
        "utm_source": "fb",
        "utm_medium": "cpc",
        "utm_campaign": "tet",
        "utm_content": "video",
        "utm_term": "can ho",
    }


def test_created_at_is_the_clock_time_in_the_workspace_offset(admin_api):
    moment = local(date(2026, 11, 22), 10, 0)
    with at(moment):
        body = admin_api.post("/leads", {"phone": "0912345678"}).json()
    assert body["created_at"].startswith("2026-11-22T10:00:0")
    assert body["created_at"].endswith("+07:00")
    odd = moment + timedelta(microseconds=250001)
    with at(odd):
        single = admin_api.post("/leads", {"phone": "0912345670"}).json()["created_at"]
        bulk = admin_api.post("/leads/bulk", {"leads": [{"phone": "0912345679"}]}).json()
    for written in (single, bulk["results"][0]["lead"]["created_at"]):  # one precision for both
        assert re.fullmatch(r"2026-11-22T10:00:00\.\d{6}\+07:00", written), written


@pytest.mark.parametrize(
    "written",
    [
        "+84 912 345 678",
        "84912345678",
        "0912.345.678",
        "(+84) 912-345-678",
        "0084 912 345 678",
        " 0912345678 ",
    ],
)
def test_same_phone_in_another_written_form_joins_the_open_lead(admin_api, written):
    first = admin_api.post("/leads", {"full_name": "An", "phone": "0912 345 678"}).json()
    response = admin_api.post("/leads", {"full_name": "An", "phone": written})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ANSWER_KEYS
    assert body["created"] is False
    assert body["duplicate_of"] == first["id"] == body["id"]
    assert body["contact_id"] == first["contact_id"]
    assert Lead.objects.count() == 1
    assert Touch.objects.filter(lead_id=first["id"]).count() == 2
    assert LeadEvent.objects.filter(lead_id=first["id"], kind="touch").count() == 1


def test_pre_2018_eleven_digit_mobile_is_the_same_contact_as_its_new_number(admin_api):
    old = admin_api.post("/leads", {"phone": "0162 345 6789"}).json()
    assert old["quality"]["phone_e164"] == "+84323456789"
    assert old["quality"]["phone_valid"] is True
    new = admin_api.post("/leads", {"phone": "0323 456 789"})
    assert new.status_code == 200
    assert new.json()["duplicate_of"] == old["id"]


def test_email_match_is_case_insensitive(admin_api):
    first = admin_api.post("/leads", {"email": "an@example.com"}).json()
    response = admin_api.post("/leads", {"email": "  An@Example.COM ", "full_name": "An"})
    assert response.status_code == 200
    assert response.json()["duplicate_of"] == first["id"]
    assert Contact.objects.count() == 1


def test_phone_of_one_contact_and_email_of_another_attach_to_the_phone_and_flag_the_pair(
    admin_api,
):
    a = admin_api.post("/leads", {"full_name": "A", "phone": "0912345678"}).json()
    b = admin_api.post("/leads", {"full_name": "B", "email": "b@example.com"}).json()
    assert a["contact_id"] != b["contact_id"]
    response = admin_api.post("/leads", {"phone": "0912345678", "email": "b@example.com"})
    assert response.status_code == 200
    body = response.json()
    assert body["contact_id"] == a["contact_id"]
    assert body["duplicate_of"] == a["id"]
    pair = PossibleDuplicate.objects.get()
    assert (pair.contact_id, pair.other_id) == (a["contact_id"], b["contact_id"])
    # the e-mail stays with B: A does not take an address another contact owns
    assert Contact.objects.get(pk=a["contact_id"]).email == ""
    assert Contact.objects.get(pk=b["contact_id"]).email == "b@example.com"
    # a second such submission does not flag the pair twice
    admin_api.post("/leads", {"phone": "0912345678", "email": "b@example.com"})
    assert PossibleDuplicate.objects.count() == 1


@pytest.mark.parametrize("closing_stage", ["k1", "k4-2", "k4-1"])
def test_a_closed_lead_makes_the_next_submission_a_returning_lead(team, closing_stage):
    api = team.api("manager")
    first = api.post("/leads", {"full_name": "An", "phone": "0912345678"}).json()
    closed = api.post(f"/leads/{first['id']}/stage", {"stage": closing_stage})
    assert closed.status_code == 200, closed.content
    assert closed.json()["is_open"] is False
    response = api.post("/leads", {"phone": "+84912345678"})
    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["returning"] is True
    assert body["duplicate_of"] is None
    assert body["contact_id"] == first["contact_id"]
    assert body["id"] != first["id"]
    assert body["stage"] == "new"
    assert Lead.objects.filter(contact_id=first["contact_id"], is_open=True).count() == 1
    # a further submission joins the returning lead, not the closed one
    again = api.post("/leads", {"phone": "0912345678"}).json()
    assert again["duplicate_of"] == body["id"]


def test_bad_phone_is_stored_with_quality_issues(admin_api):
    response = admin_api.post("/leads", {"full_name": "Lê Văn C", "phone": "12345"})
    assert response.status_code == 201
    quality = response.json()["quality"]
    assert quality["phone_valid"] is False
    assert "phone_invalid" in quality["issues"]
    contact = Lead.objects.get(pk=response.json()["id"]).contact
    assert contact.phone_raw == "12345"
    assert contact.phone_valid is False


def test_invalid_email_is_stored_and_reported(admin_api):
    response = admin_api.post("/leads", {"full_name": "D", "email": "not-an-email"})
    assert response.status_code == 201
    quality = response.json()["quality"]
    assert quality["email_valid"] is False
    assert "email_invalid" in quality["issues"]
    assert "phone_missing" in quality["issues"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"full_name": "Chỉ có tên"},
        {"phone": "", "email": ""},
        {"phone": "   ", "email": " "},
        {"full_name": "X", "note": "no channel", "fields": {"a": "b"}},
    ],
)
def test_neither_phone_nor_email_is_a_422(admin_api, body):
    error = assert_error(admin_api.post("/leads", body), 422, "validation_error")
    assert {"phone", "email"} <= set(error["fields"])
    assert Lead.objects.count() == 0
    assert Contact.objects.count() == 0


# ------------------------------------------------------------------ idempotency


def test_idempotency_key_replays_the_first_answer_without_a_second_touch(admin_api):
    key = {"Idempotency-Key": "order-42"}
    first = admin_api.post("/leads", FULL_BODY, **key)
    second = admin_api.post("/leads", FULL_BODY, **key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert Lead.objects.count() == 1
    assert Touch.objects.count() == 1
    # without the key the same body is a duplicate submission: 200, a second touch
    third = admin_api.post("/leads", FULL_BODY | {"external_id": ""})
    assert third.status_code == 200
    assert Touch.objects.count() == 2


def test_idempotency_key_with_another_body_is_a_409(admin_api):
    key = {"Idempotency-Key": "k-1"}
    assert admin_api.post("/leads", {"phone": "0912345678"}, **key).status_code == 201
    response = admin_api.post("/leads", {"phone": "0912345679"}, **key)
    assert_error(response, 409)
    assert Lead.objects.count() == 1


def test_a_bulk_request_with_an_idempotency_key_is_played_once(admin_api):
    key = {"Idempotency-Key": "sheet-7"}
    body = {"leads": [{"phone": "0912345678"}, {"phone": "0912345679"}, {"full_name": "x"}]}
    first = admin_api.post("/leads/bulk", body, **key)
    again = admin_api.post("/leads/bulk", body, **key)
    assert first.status_code == again.status_code == 200
    assert [r["status"] for r in first.json()["results"]] == [201, 201, 422]
    assert again.json() == first.json()  # the first answer, not "joined" twice
    assert (Lead.objects.count(), Touch.objects.count()) == (2, 2)
    other = admin_api.post("/leads/bulk", {"leads": [{"phone": "0912345670"}]}, **key)
    assert_error(other, 409)
    assert Lead.objects.count() == 2


def test_idempotency_key_longer_than_255_characters_is_a_422(admin_api):
    response = admin_api.post("/leads", {"phone": "0912345678"}, **{"Idempotency-Key": "k" * 256})
    assert_error(response, 422)
    assert Lead.objects.count() == 0
    ok = admin_api.post("/leads", {"phone": "0912345678"}, **{"Idempotency-Key": "k" * 255})
    assert ok.status_code == 201


def test_idempotency_keys_are_per_workspace(team, other_team):
    key = {"Idempotency-Key": "shared"}
    ours = team.api("admin").post("/leads", {"phone": "0912345678"}, **key)
    theirs = other_team.api("admin").post("/leads", {"phone": "0912345678"}, **key)
    assert ours.status_code == theirs.status_code == 201
    assert ours.json()["id"] != theirs.json()["id"]


def test_idempotency_key_expires_after_a_day(admin_api):
    key = {"Idempotency-Key": "old"}
    first = admin_api.post("/leads", {"phone": "0912345678"}, **key).json()
    with at(Lead.objects.get().created_at + timedelta(hours=25)):
        response = admin_api.post("/leads", {"phone": "0912345678"}, **key)
    assert response.status_code == 200  # processed again: a duplicate, not a replayed 201
    assert response.json()["duplicate_of"] == first["id"]
    assert IdempotencyRecord.objects.count() == 1


def test_a_failed_request_is_not_remembered_under_its_key(admin_api):
    key = {"Idempotency-Key": "retry-me"}
    assert_error(admin_api.post("/leads", {"full_name": "no channel"}, **key), 422)
    assert IdempotencyRecord.objects.count() == 0
    fixed = admin_api.post("/leads", {"full_name": "no channel", "phone": "0912345678"}, **key)
    assert fixed.status_code == 201


# ------------------------------------------------------------------ external ids


def test_same_external_id_from_the_same_source_never_makes_a_second_touch(admin_api):
    body = {"phone": "0912345678", "source": "facebook", "external_id": "fb-1"}
    first = admin_api.post("/leads", body).json()
    again = admin_api.post("/leads", body | {"phone": "0987654321"})
    assert again.status_code == 200
    assert again.json()["duplicate_of"] == first["id"]
    assert Touch.objects.count() == 1
    assert Contact.objects.count() == 1
    # the same id at another source is another submission
    other = admin_api.post("/leads", body | {"source": "google"})
    assert other.status_code == 200
    assert Touch.objects.count() == 2


# ------------------------------------------------------------------ bulk


def test_bulk_gives_one_result_per_item_and_stores_the_good_ones(team):
    api = team.api("marketer")
    items = [
        {"full_name": "Một", "phone": "0912345678"},  # new
        {"full_name": "Một", "phone": "+84 912 345 678"},  # joins item 0
        {"full_name": "Không liên lạc"},  # no phone, no e-mail
        {"phone": 912345678},  # wrong type
        {"phone": "0912000111", "colour": "red"},  # unknown field
        5,  # not an object
        {"full_name": "Hai", "email": "hai@example.com", "fields": {"a": {"nested": 1}}},
        {"full_name": "Ba", "email": "ba@example.com"},  # new
    ]
    response = api.post("/leads/bulk", {"leads": items})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [201, 200, 422, 422, 422, 422, 422, 201]
    assert results[1]["lead"]["duplicate_of"] == results[0]["lead"]["id"]
    for result in results:
        if result["status"] == 422:
            assert set(result) == {"index", "status", "error"}
            assert set(result["error"]) == {"code", "message", "fields"}
            assert result["error"]["code"] == "validation_error"
        else:
            assert set(result) == {"index", "status", "lead"}
            assert set(result["lead"]) == ANSWER_KEYS
    assert {lead.contact.full_name for lead in Lead.objects.all()} == {"Một", "Ba"}
    assert Touch.objects.count() == 3


def test_bulk_over_1000_items_is_a_422_and_stores_nothing(admin_api):
    items = [{"phone": f"0912{i:06d}"} for i in range(1001)]
    assert_error(admin_api.post("/leads/bulk", {"leads": items}), 422)
    assert Lead.objects.count() == 0


def test_bulk_takes_exactly_1000_items(admin_api):
    response = admin_api.post("/leads/bulk", {"leads": [{"full_name": "no channel"}] * 1000})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 1000
    assert {r["status"] for r in results} == {422}
    assert [r["index"] for r in results] == list(range(1000))


@pytest.mark.parametrize(
    "body", [{}, {"leads": "x"}, {"leads": {"0": {}}}, {"leads": [], "extra": 1}, [], 3]
)
def test_bulk_envelope_must_be_an_object_with_a_list(admin_api, body):
    assert_error(admin_api.post("/leads/bulk", body), 422)


def test_bulk_empty_list_gives_no_results(admin_api):
    response = admin_api.post("/leads/bulk", {"leads": []})
    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_external_ids_are_per_workspace(team, other_team):
    body = {"phone": "0912345678", "source": "facebook", "external_id": "fb-1"}
    assert team.api("admin").post("/leads", body).status_code == 201
    assert other_team.api("admin").post("/leads", body).status_code == 201


def test_capture_service_answers_like_the_api(team):
    first = capture(team, full_name="Service", phone="0912345678")
    second = capture(team, "sales", phone="0912 345 678")
    assert (first.created, second.created) == (True, False)
    assert second.duplicate_of == first.lead.pk
