"""Merging two contacts: preview vs result, field choices, open-lead conflicts, audit, pointers,
roles and tenancy, through the service and the API."""

from datetime import timedelta

import pytest

from leadloop.activities.models import Activity
from leadloop.activities.services import activity_log
from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.contacts.services import contact_merge, duplicates_find
from leadloop.core import clock
from leadloop.core.models import AuditLog
from leadloop.intake.models import Touch
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import lead_change_stage
from tests.core.support import assert_error, capture
from tests.web.leads import browser


def lead_of(team, name="", phone="", email="", **more) -> Lead:
    return capture(team, full_name=name, phone=phone, email=email, **more).lead


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Contact, Lead, Touch, Activity, LeadEvent, PossibleDuplicate, AuditLog)
    }


@pytest.fixture
def pair(team):
    """Two contacts of one person, each with an open lead; the first is older and was called."""
    older = lead_of(team, "Nguyễn Văn An", "0912345678", source="facebook")
    activity_log(lead=older, actor=team.actors["admin"], kind="call", outcome="no_answer")
    with clock.travel(timedelta(minutes=5)):
        newer = lead_of(team, "Nguyen Van An", "0912345679", "an@example.com", source="google")
        lead_of(team, "Nguyen Van An", "0912345679", source="zalo")  # a second touch on it
        activity_log(lead=newer, actor=team.actors["admin"], kind="call", outcome="busy_callback")
    return older, newer


def test_preview_writes_nothing_and_equals_the_result(team, pair):
    older, newer = pair
    before = counts()
    args = {"workspace": team.workspace, "actor": team.actors["manager"]}
    ids = {"contact_id": newer.contact_id, "into_id": older.contact_id}
    preview = contact_merge(**args, **ids, dry_run=True)
    assert counts() == before
    assert Contact.objects.filter(pk=newer.contact_id).exists()
    result = contact_merge(**args, **ids)
    assert result == preview
    assert result["open_lead"] == older.pk and result["closed_lead"] == newer.pk
    assert not Contact.objects.filter(pk=newer.contact_id).exists()


def test_default_choice_keeps_survivor_values_and_fills_gaps(team, pair):
    older, newer = pair
    result = contact_merge(
        workspace=team.workspace,
        actor=team.actors["admin"],
        contact_id=newer.contact_id,
        into_id=older.contact_id,
    )
    survivor = Contact.objects.get(pk=older.contact_id)
    assert survivor.full_name == "Nguyễn Văn An" and survivor.phone_e164 == "+84912345678"
    assert survivor.email == "an@example.com" and survivor.email_valid  # only the other had one
    assert result["fields"] == {
        "full_name": older.contact_id,
        "phone": older.contact_id,
        "email": newer.contact_id,
    }
    assert "an@example.com" in survivor.search_key and survivor.email_local == "an"


def test_field_by_field_choice(team, pair):
    older, newer = pair
    contact_merge(
        workspace=team.workspace,
        actor=team.actors["admin"],
        contact_id=newer.contact_id,
        into_id=older.contact_id,
        fields={"full_name": newer.contact_id, "phone": newer.contact_id},
    )
    survivor = Contact.objects.get(pk=older.contact_id)
    assert survivor.full_name == "Nguyen Van An"
    assert survivor.phone_e164 == "+84912345679" and survivor.phone_tail == "5679"
    # the survivor now answers to the chosen phone at capture; the dropped one makes a new contact
    assert lead_of(team, "", "0912345679").contact_id == survivor.pk


def test_both_open_leads_keep_one_open_lead(team, pair):
    older, newer = pair
    contact_merge(
        workspace=team.workspace,
        actor=team.actors["manager"],
        contact_id=older.contact_id,  # the older lead's contact goes away: its lead still wins
        into_id=newer.contact_id,
    )
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.is_open and not newer.is_open
    assert Lead.objects.filter(contact_id=newer.contact_id, is_open=True).get() == older
    assert newer.stage.category == "invalid" and newer.closed_at is not None
    assert older.touches.count() == 3 and not newer.touches.exists()
    assert older.activities.count() == 2 and older.call_attempts == 2
    closing = newer.events.get(kind="stage")
    assert closing.data == {"merged_into": older.pk} and f"#{older.pk}" in closing.reason
    assert older.events.filter(kind="merged", data__lead=newer.pk).exists()
    kinds = set(older.events.values_list("kind", flat=True))
    assert {"touch", "activity", "merged", "created"} <= kinds


def test_the_values_a_merge_drops_stay_on_the_timeline(team, pair):
    """One phone survives a merge; the other is still to be read on the lead."""
    older, newer = pair
    contact_merge(
        workspace=team.workspace,
        actor=team.actors["admin"],
        contact_id=newer.contact_id,
        into_id=older.contact_id,
    )
    dropped = {"full_name": "Nguyen Van An", "phone": "0912345679"}  # the e-mail was kept
    assert older.events.get(kind="merged").data == {"lead": newer.pk, "dropped": dropped}
    assert newer.events.get(kind="merged").data["dropped"] == dropped
    html = browser(team, "manager").get(f"/leads/{older.pk}/").content.decode()
    assert "Not kept: name Nguyen Van An; phone 0912345679" in html


def test_a_closed_lead_moves_without_conflict(team, pair):
    older, newer = pair
    lead_change_stage(lead=newer, actor=team.actors["admin"], stage_key="k4-2")
    result = contact_merge(
        workspace=team.workspace,
        actor=team.actors["admin"],
        contact_id=newer.contact_id,
        into_id=older.contact_id,
    )
    assert result["closed_lead"] is None
    assert {r["id"]: r["action"] for r in result["leads"]} == {older.pk: "kept", newer.pk: "moved"}
    assert set(Lead.objects.filter(contact_id=older.contact_id)) == {older, newer}


def test_audit_entry(team, pair):
    older, newer = pair
    contact_merge(
        workspace=team.workspace,
        actor=team.actors["manager"],
        contact_id=newer.contact_id,
        into_id=older.contact_id,
    )
    entry = AuditLog.objects.get(action="contact.merge")
    assert entry.actor == team.members["manager"]
    assert entry.object_id == str(older.contact_id)
    assert entry.data["merged"]["id"] == newer.contact_id
    assert entry.data["merged"]["email"] == "an@example.com"
    assert entry.data["into"]["phone_e164"] == "+84912345678"


def test_pairs_move_to_the_survivor(team, pair):
    older, newer = pair
    third = lead_of(team, "Nguyễn Văn An", "0912345699")  # one digit off the newer contact
    duplicates_find(workspace=team.workspace, contacts=list(Contact.objects.all()))
    assert PossibleDuplicate.objects.count() == 2  # older-newer, newer-third
    contact_merge(
        workspace=team.workspace,
        actor=team.actors["admin"],
        contact_id=newer.contact_id,
        into_id=older.contact_id,
    )
    left = PossibleDuplicate.objects.values_list("contact_id", "other_id")
    assert [set(p) for p in left] == [{older.contact_id, third.contact_id}]


def test_api_merge_and_pointer(team, pair):
    older, newer = pair
    api = team.api("manager")
    body = {"into": older.contact_id, "dry_run": True}
    preview = api.post(f"/contacts/{newer.contact_id}/merge", body)
    assert preview.status_code == 200, preview.content
    body["dry_run"] = False
    done = api.post(f"/contacts/{newer.contact_id}/merge", body)
    assert done.json() == preview.json()
    gone = api.get(f"/contacts/{newer.contact_id}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "merged"
    assert gone.json()["error"]["merged_into"] == older.contact_id
    survivor = api.get(f"/contacts/{older.contact_id}").json()
    assert {lead["id"] for lead in survivor["leads"]} == {older.pk, newer.pk}
    again = api.post(f"/contacts/{newer.contact_id}/merge", body)
    assert again.status_code == 404 and again.json()["error"]["code"] == "merged"


def test_pointer_follows_later_merges(team, pair):
    older, newer = pair
    third = lead_of(team, "An", "0988888888")
    merge = {"workspace": team.workspace, "actor": team.actors["admin"]}
    contact_merge(**merge, contact_id=newer.contact_id, into_id=older.contact_id)
    contact_merge(**merge, contact_id=older.contact_id, into_id=third.contact_id)
    error = team.api("admin").get(f"/contacts/{newer.contact_id}").json()["error"]
    assert error["merged_into"] == third.contact_id


@pytest.mark.parametrize("role", ["sales", "marketer"])
def test_only_managers_and_admins_merge(team, pair, role):
    older, newer = pair
    answer = team.api(role).post(f"/contacts/{newer.contact_id}/merge", {"into": older.contact_id})
    assert_error(answer, 403, "forbidden")
    assert Contact.objects.filter(pk=newer.contact_id).exists()


def test_other_workspace_ids_answer_404(team, other_team, pair):
    older, newer = pair
    theirs = lead_of(other_team, "Nguyễn Văn An", "0912345677")
    api = team.api("admin")
    assert_error(api.get(f"/contacts/{theirs.contact_id}"), 404, "not_found")
    answer = api.post(f"/contacts/{newer.contact_id}/merge", {"into": theirs.contact_id})
    assert_error(answer, 404, "not_found")
    answer = api.post(f"/contacts/{theirs.contact_id}/merge", {"into": older.contact_id})
    assert_error(answer, 404, "not_found")
    assert Contact.objects.filter(pk=theirs.contact_id).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"into": "x"},
        {"into": 1, "fields": {"budget": 1}},
        {"into": 1, "unknown": True},
        {},
    ],
)
def test_bad_merge_bodies_are_422(team, pair, body):
    _older, newer = pair
    assert_error(team.api("admin").post(f"/contacts/{newer.contact_id}/merge", body), 422)


def test_field_choice_must_be_one_of_the_two(team, pair):
    older, newer = pair
    body = {"into": older.contact_id, "fields": {"phone": 999999}}
    error = assert_error(team.api("admin").post(f"/contacts/{newer.contact_id}/merge", body), 422)
    assert "phone" in error["fields"]
    body = {"into": newer.contact_id}
    assert_error(team.api("admin").post(f"/contacts/{newer.contact_id}/merge", body), 422)


def test_sales_sees_only_contacts_of_own_leads(team):
    mine = capture(team, full_name="A", phone="0912000001").lead
    Lead.objects.filter(pk=mine.pk).update(owner=team.members["sales"])
    theirs = capture(team, full_name="B", phone="0912000002").lead
    Lead.objects.filter(pk=theirs.pk).update(owner=team.members["sales2"])
    api = team.api("sales")
    assert api.get(f"/contacts/{mine.contact_id}").status_code == 200
    assert_error(api.get(f"/contacts/{theirs.contact_id}"), 404, "not_found")


def test_the_lead_furthest_along_stays_open_whichever_is_older(team, pair):
    older, newer = pair
    qualified = team.workspace.stages.filter(category="qualified").order_by("position").first()
    lead_change_stage(lead=newer, actor=team.actors["manager"], stage_key=qualified.key)
    args = {"workspace": team.workspace, "actor": team.actors["manager"]}
    ids = {"contact_id": newer.contact_id, "into_id": older.contact_id}
    preview = contact_merge(**args, **ids, dry_run=True)
    assert (preview["open_lead"], preview["closed_lead"]) == (newer.pk, older.pk)
    assert preview["closed_stage"] == team.workspace.stages.get(category="invalid").key
    contact_merge(**args, **ids)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert newer.is_open and newer.stage == qualified and newer.touches.count() == 3
    assert not older.is_open and older.stage.category == "invalid"
