"""Members (service and /api/v1/members) and API tokens (hash only, authenticate, revoke)."""

import hashlib

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadloop.core.access import Actor
from leadloop.core.errors import Conflict, Forbidden, ValidationFailed
from leadloop.core.models import ApiToken, AuditLog, Member, Team
from leadloop.core.services import member_create, token_authenticate, token_create, token_revoke
from tests.core.support import assert_error

ROUTING_KEYS = {"capacity", "daily_limit", "weight", "away", "working_hours"}
MEMBER_KEYS = {"id", "email", "full_name", "role", "team", "active", "email_notifications"}
MEMBER_KEYS |= ROUTING_KEYS


# ------------------------------------------------------------------ members


def test_get_members_lists_the_workspace(team):
    body = team.api("sales").get("/members").json()
    assert len(body) == 5
    assert all(set(m) == MEMBER_KEYS for m in body)
    by_email = {m["email"]: m for m in body}
    assert by_email["sales@acme.test"]["role"] == "sales"
    assert by_email["sales@acme.test"]["team"] == "Sales"
    assert by_email["admin@acme.test"]["team"] == ""


def test_admin_adds_a_member_over_the_api(team):
    body = {
        "email": "  Lan.Nguyen@Acme.TEST ",
        "full_name": "  Nguyễn   Thị Lan ",
        "role": "sales",
        "team": "Sales",
        "capacity": 40,
        "active": True,
    }
    response = team.api("admin").post("/members", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert set(created) == MEMBER_KEYS
    assert created | {"id": 0} == {
        "id": 0,
        "email": "lan.nguyen@acme.test",
        "full_name": "Nguyễn Thị Lan",
        "role": "sales",
        "team": "Sales",
        "capacity": 40,
        "daily_limit": 0,
        "weight": 1,
        "away": False,
        "working_hours": {},
        "active": True,
        "email_notifications": False,
    }
    member = Member.objects.get(pk=created["id"])
    assert member.workspace == team.workspace
    assert AuditLog.objects.filter(action="member.create", object_id=str(member.pk)).exists()
    assert len(team.api("admin").get("/members").json()) == 6


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "no-at-sign", "full_name": "X", "role": "sales"}, "email"),
        ({"email": "x@acme.test", "full_name": "   ", "role": "sales"}, "full_name"),
        ({"email": "x@acme.test", "full_name": "X", "role": "owner"}, "role"),
        ({"email": "x@acme.test", "full_name": "X", "role": "sales", "team": 987654}, "team"),
        ({"email": "x@acme.test", "full_name": "X", "role": "sales", "team": "T" * 101}, "team"),
        ({"email": "@", "full_name": "X", "role": "sales"}, "email"),
        ({"email": "a@b", "full_name": "X", "role": "sales"}, "email"),
        ({"email": "x@acme.test", "full_name": "X", "role": "sales", "capacity": -1}, "capacity"),
        ({"email": "x" * 250 + "@a.vn", "full_name": "X", "role": "sales"}, "email"),
    ],
)
def test_invalid_members_are_422_naming_the_field(team, body, field):
    error = assert_error(team.api("admin").post("/members", body), 422)
    assert field in error["fields"]
    assert Member.objects.filter(workspace=team.workspace).count() == 5


def test_a_team_named_for_the_first_time_is_made_of_the_members_kind(team):
    """A new workspace can set its teams up through the API, as sources come with leads."""
    api = team.api("admin")
    for email, role in (("a@acme.test", "sales"), ("b@acme.test", "marketer")):
        body = {"email": email, "full_name": "X", "role": role, "team": f"  Hà  Nội {role}"}
        assert api.post("/members", body).status_code == 201
    teams = Team.objects.filter(workspace=team.workspace, name__startswith="Hà Nội")
    assert dict(teams.values_list("name", "kind")) == {
        "Hà Nội sales": "sales",
        "Hà Nội marketer": "marketing",
    }
    again = {"email": "c@acme.test", "full_name": "Y", "role": "sales", "team": "Hà Nội sales"}
    assert api.post("/members", again).status_code == 201
    assert teams.count() == 2


def test_the_same_person_twice_is_a_409(team):
    body = {"email": "SALES@acme.test", "full_name": "Again", "role": "sales"}
    assert_error(team.api("admin").post("/members", body), 409)


def test_a_person_can_be_a_member_of_two_workspaces(team, other_team):
    body = {"email": "sales@acme.test", "full_name": "Đa Năng", "role": "manager"}
    response = other_team.api("admin").post("/members", body)
    assert response.status_code == 201
    acme = team.members["sales"]
    rival = Member.objects.get(pk=response.json()["id"])
    assert rival.user_id == acme.user_id
    assert (acme.role, rival.role) == ("sales", "manager")


def test_member_create_service_rules(team):
    for role in ("manager", "marketer", "sales"):
        with pytest.raises(Forbidden):
            member_create(
                workspace=team.workspace,
                actor=team.actors[role],
                email="z@acme.test",
                full_name="Z",
                role="sales",
            )
    with pytest.raises(ValidationFailed) as raised:
        member_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            email="bad",
            full_name="",
            role="boss",
        )
    assert set(raised.value.fields) == {"email", "full_name", "role"}
    with pytest.raises(Conflict):
        member_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            email="admin@acme.test",
            full_name="Dup",
            role="admin",
        )
    with pytest.raises(ValidationFailed) as raised:  # longer than the column, on every database
        member_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            email="long@acme.test",
            full_name="N" * 201,
            role="sales",
        )
    assert set(raised.value.fields) == {"full_name"}


# ------------------------------------------------------------------ tokens


def test_token_create_stores_only_a_hash(team):
    token, key = token_create(
        workspace=team.workspace, actor=team.actors["admin"], name="zapier", role="marketer"
    )
    assert key.startswith("ll_")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    secret = key.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
        cursor.execute("SELECT data FROM core_auditlog")
        stored += " ".join(str(row[0]) for row in cursor.fetchall())
    assert key not in stored
    assert secret not in stored
    assert token.prefix in key


def test_token_authenticate_finds_the_token_and_refuses_the_rest(team):
    token, key = token_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        name="ci",
        role="sales",
        member=team.members["sales"],
    )
    found = token_authenticate(key)
    assert found == token
    assert (found.workspace, found.role, found.member) == (
        team.workspace,
        "sales",
        team.members["sales"],
    )
    member = team.members["sales"]
    member.working_hours = {"mon": [["08:00", "17:00"]]}
    member.save(update_fields=["working_hours"])
    read = token_authenticate(key)  # every value as the ORM reads it, and nothing more to query
    with CaptureQueriesContext(connection) as queries:
        assert read.member.working_hours == {"mon": [["08:00", "17:00"]]}
        assert read.member.workspace.time_zone == team.workspace.time_zone
        assert read.created_at == token.created_at and read.created_at.tzinfo is not None
        assert read.workspace.created_at == team.workspace.created_at
        assert (read.last_used_at, read.revoked_at) == (None, None)
        assert read.member.active is True and read.member.away is False
    assert not queries.captured_queries
    for wrong in (
        "",
        "ll_",
        "ll_nothing",
        key[:-1],
        key + "x",
        key.replace("ll_", "xx_"),
        f"ll_{token.prefix}_" + "A" * 43,
        key.upper(),
    ):
        assert token_authenticate(wrong) is None, wrong
    token_revoke(token=token, actor=team.actors["admin"])
    assert token_authenticate(key) is None


def test_token_rules(team):
    with pytest.raises(Forbidden):
        token_create(workspace=team.workspace, actor=team.actors["manager"], name="x", role="admin")
    with pytest.raises(ValidationFailed):
        token_create(
            workspace=team.workspace, actor=team.actors["admin"], name="x", role="superuser"
        )
    token, _key = token_create(
        workspace=team.workspace, actor=team.actors["admin"], name="x", role="admin"
    )
    with pytest.raises(Forbidden):
        token_revoke(token=token, actor=team.actors["sales"])
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_name_of_at_most_100_characters(team, name):
    with pytest.raises(ValidationFailed):
        token_create(workspace=team.workspace, actor=team.actors["admin"], name=name, role="admin")
    assert not ApiToken.objects.exists()


def test_a_token_acting_as_a_member_has_the_members_role(team):
    rep = team.members["sales"]
    token, key = token_create(
        workspace=team.workspace, actor=team.actors["admin"], name=" rep ", role="admin", member=rep
    )
    assert (token.role, token.member, token.name) == ("sales", rep, "rep")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"email": "x@acme.test", "full_name": "X", "role": "sales"}
    assert_error(client.post("/api/v1/members", body, content_type="application/json"), 403)


def test_a_token_cannot_act_as_a_member_of_another_workspace(team, other_team):
    with pytest.raises(ValidationFailed):
        token_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            name="x",
            role="admin",
            member=other_team.members["admin"],
        )
    assert not ApiToken.objects.filter(name="x").exists()


def test_a_tokens_role_decides_what_it_may_do(team):
    _token, key = token_create(
        workspace=team.workspace,
        actor=Actor.system(team.workspace),
        name="marketing-bot",
        role="marketer",
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"email": "x@acme.test", "full_name": "X", "role": "sales"}
    response = client.post("/api/v1/members", body, content_type="application/json")
    assert_error(response, 403)
    response = client.post(
        "/api/v1/leads", {"phone": "0912345678"}, content_type="application/json"
    )
    assert response.status_code == 201


def test_using_a_token_records_when_it_was_last_used(team):
    token, key = token_create(
        workspace=team.workspace, actor=team.actors["admin"], name="ci", role="admin"
    )
    assert token.last_used_at is None
    Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/stages")
    token.refresh_from_db()
    assert token.last_used_at is not None
