"""GET /api/v1/leads/{id} and POST /api/v1/leads/{id}/stage."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.selectors import stage_list
from leadloop.pipeline.services import stage_create, stage_update
from tests.core.support import ISO_LOCAL, assert_error, at, capture, local


@pytest.fixture
def lead(team):
    with at(local(date(2026, 5, 4), 9, 0)):
        first = capture(
            team,
            full_name="Nguyễn Văn An",
            phone="0912345678",
            source="facebook",
            fields={"budget": "2 tỷ"},
        )
    capture(
        team,
        phone="+84 912 345 678",
        email="an@example.com",
        source="google",
        utm_source="gg",
        external_id="g-1",
    )
    return first.lead


def test_detail_has_contact_touches_with_raw_activities_and_stage_history(team, lead):
    api = team.api("manager")
    api.post(f"/leads/{lead.pk}/activities", {"kind": "note", "body": "Khách hẹn gọi lại"})
    api.post(f"/leads/{lead.pk}/stage", {"stage": "k3", "reason": "bận"})
    response = api.get(f"/leads/{lead.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == lead.pk
    assert body["contact"]["full_name"] == "Nguyễn Văn An"
    assert body["contact"]["phone_e164"] == "+84912345678"
    assert body["contact"]["email"] == "an@example.com"  # filled in by the second touch
    touches = body["touches"]
    assert [t["source"] for t in touches] == ["facebook", "google"]
    assert touches[0]["raw"]["full_name"] == "Nguyễn Văn An"
    assert touches[0]["raw"]["fields"] == {"budget": "2 tỷ"}
    assert touches[1]["external_id"] == "g-1"
    assert touches[1]["utm"] == {"utm_source": "gg"}
    assert re.match(ISO_LOCAL, touches[0]["received_at"])
    assert [a["kind"] for a in body["activities"]] == ["note"]
    assert body["activities"][0]["body"] == "Khách hẹn gọi lại"
    assert body["activities"][0]["member"]["id"] == team.members["manager"].id
    assert [(h["from"], h["to"], h["reason"]) for h in body["stage_history"]] == [
        ("new", "k3", "bận")
    ]
    assert body["fields"] == {"budget": "2 tỷ"}


def test_detail_query_count_does_not_grow_with_the_history(team, lead):
    api = team.api("admin")
    api.get(f"/leads/{lead.pk}")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/leads/{lead.pk}").status_code == 200
        return len(queries)

    before = count()
    for i in range(6):
        api.post(f"/leads/{lead.pk}/activities", {"kind": "call", "outcome": "no_answer"})
        api.post(f"/leads/{lead.pk}/stage", {"stage": "k3" if i % 2 == 0 else "new"})
        capture(team, phone="0912345678", source=f"src-{i}", campaign=f"c-{i}")
    assert count() == before


def test_stage_change_records_from_to_member_and_reason(team, lead):
    role = next(r for r in ("sales", "sales2") if team.members[r].id == lead.owner_id)
    sales, api = team.members[role], team.api(role)
    with at(local(date(2026, 5, 4), 10, 15)):
        response = api.post(f"/leads/{lead.pk}/stage", {"stage": "k2", "reason": "đang cân nhắc"})
    assert response.status_code == 200
    assert response.json()["stage"] == "k2"
    assert response.json()["category"] == "qualified"
    event = LeadEvent.objects.get(lead=lead, kind="stage")
    assert (event.from_stage.key, event.to_stage.key) == ("new", "k2")
    assert event.actor == sales
    assert event.reason == "đang cân nhắc"
    history = api.get(f"/leads/{lead.pk}").json()["stage_history"]
    assert history == [
        {
            "from": "new",
            "to": "k2",
            "member": {"id": sales.id, "name": sales.full_name},
            "by": history[0]["by"],
            "reason": "đang cân nhắc",
            "at": history[0]["at"],
        }
    ]
    assert history[0]["by"]  # the acting label (here the token's)
    assert history[0]["at"].startswith("2026-05-04T10:15")


@pytest.mark.parametrize("closing", ["k1", "k4-1", "k4-2"])
def test_closing_stages_close_and_moving_back_reopens(team, lead, closing):
    api = team.api("manager")
    closed = api.post(f"/leads/{lead.pk}/stage", {"stage": closing}).json()
    assert closed["is_open"] is False
    assert closed["closed_at"] is not None
    lead.refresh_from_db()
    assert (lead.is_open, lead.closed_at is not None) == (False, True)
    reopened = api.post(f"/leads/{lead.pk}/stage", {"stage": "k3", "reason": "gọi lại"})
    assert reopened.status_code == 200
    assert reopened.json()["is_open"] is True
    assert reopened.json()["closed_at"] is None
    lead.refresh_from_db()
    assert lead.is_open and lead.closed_at is None


@pytest.mark.parametrize("target", ["k2", "k5", "k3", "new"])
def test_working_stages_keep_the_lead_open(team, lead, target):
    response = team.api("admin").post(f"/leads/{lead.pk}/stage", {"stage": "k3"})
    response = team.api("admin").post(f"/leads/{lead.pk}/stage", {"stage": target})
    assert response.status_code == 200
    assert response.json()["is_open"] is True


def test_reopening_while_the_contact_has_another_open_lead_is_a_409(team, lead):
    api = team.api("admin")
    api.post(f"/leads/{lead.pk}/stage", {"stage": "k4-2"})
    returning = api.post("/leads", {"phone": "0912345678"}).json()
    assert returning["created"] and returning["returning"]
    response = api.post(f"/leads/{lead.pk}/stage", {"stage": "k3"})
    assert_error(response, 409)
    lead.refresh_from_db()
    assert lead.stage.key == "k4-2" and lead.is_open is False
    assert LeadEvent.objects.filter(lead=lead, kind="stage").count() == 1
    # moving between closed stages is fine
    assert api.post(f"/leads/{lead.pk}/stage", {"stage": "k1"}).status_code == 200


def test_same_stage_is_a_no_op(team, lead):
    response = team.api("admin").post(f"/leads/{lead.pk}/stage", {"stage": "new"})
    assert response.status_code == 200
    assert not LeadEvent.objects.filter(lead=lead, kind="stage").exists()


def test_unknown_or_archived_stage_is_a_422_on_the_stage_field(team, lead):
    """The lead exists: a 404 would tell the client it is gone."""
    api = team.api("admin")
    error = assert_error(api.post(f"/leads/{lead.pk}/stage", {"stage": "k9"}), 422)
    assert error["fields"] == {"stage": [error["message"]]}
    stage = stage_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        name_vi="Hẹn gặp",
        name_en="Meeting set",
        category="working",
    )
    stage_update(
        stage=stage,
        actor=team.actors["admin"],
        name_vi="Hẹn gặp",
        name_en="Meeting set",
        category="working",
        archived=True,
    )
    assert_error(api.post(f"/leads/{lead.pk}/stage", {"stage": stage.key}), 422)
    assert Lead.objects.get(pk=lead.pk).stage.key == "new"


def test_a_stage_key_of_another_workspace_is_unknown_here(team, other_team, lead):
    theirs = stage_create(
        workspace=other_team.workspace,
        actor=other_team.actors["admin"],
        name_vi="Hẹn gặp",
        name_en="Meeting set",
        category="working",
    )
    assert theirs.key not in {
        s.key for s in stage_list(workspace=team.workspace, fetched_by=team.actors["admin"])
    }
    api = team.api("admin")
    unknown = assert_error(api.post(f"/leads/{lead.pk}/stage", {"stage": "k9"}), 422)
    assert assert_error(api.post(f"/leads/{lead.pk}/stage", {"stage": theirs.key}), 422) == unknown


def test_furthest_stage_ignores_exits_and_backward_moves(team, lead):
    api = team.api("admin")
    for key in ("k3", "k5", "k3", "k4-2"):
        api.post(f"/leads/{lead.pk}/stage", {"stage": key})
    lead.refresh_from_db()
    assert lead.furthest_stage.key == "k5"
