"""Roles and tenancy on every endpoint: who sees and changes what, and 401/403/404 answers."""

import pytest
from django.test import Client

from leadloop.contacts.models import Contact
from leadloop.core.access import Actor
from leadloop.core.models import ApiToken
from leadloop.core.services import member_update, token_create, token_revoke
from leadloop.intake.models import Channel
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.routing.services import lead_assign
from tests.core.support import assert_error, capture, phone


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


@pytest.fixture
def leads(team):
    """Lead `a` owned by sales, lead `b` owned by sales2."""
    admin = team.actors["admin"]
    a = capture(team, full_name="Của Một", phone=phone(1)).lead
    b = capture(team, full_name="Của Hai", phone=phone(2)).lead
    lead_assign(lead=a, actor=admin, owner_id=team.members["sales"].id)
    lead_assign(lead=b, actor=admin, owner_id=team.members["sales2"].id)
    return {"a": a.pk, "b": b.pk}


@pytest.fixture
def theirs(other_team):
    return capture(other_team, full_name="Đối thủ", phone=phone(9)).lead


# ------------------------------------------------------------------ sales


def test_sales_lists_only_their_own_leads(team, leads):
    assert ids(team.api("sales").get("/leads")) == {leads["a"]}
    assert ids(team.api("sales2").get("/leads")) == {leads["b"]}
    assert ids(team.api("sales").get("/leads", owner=str(team.members["sales2"].id))) == set()


def test_sales_gets_404_for_another_reps_lead_on_every_lead_endpoint(team, leads):
    api = team.api("sales")
    other = leads["b"]
    assert_error(api.get(f"/leads/{other}"), 404)
    assert_error(api.post(f"/leads/{other}/stage", {"stage": "k3"}), 404)
    assert_error(api.post(f"/leads/{other}/activities", {"kind": "call"}), 404)
    assert_error(api.post(f"/leads/{other}/assign", {"owner_id": team.members["sales"].id}), 404)
    lead = Lead.objects.get(pk=other)
    assert (lead.stage.key, lead.call_attempts, lead.owner_id) == (
        "new",
        0,
        team.members["sales2"].id,
    )


def test_sales_works_their_own_lead_but_cannot_assign_it(team, leads):
    api = team.api("sales")
    assert api.get(f"/leads/{leads['a']}").status_code == 200
    assert api.post(f"/leads/{leads['a']}/stage", {"stage": "k3"}).status_code == 200
    assert api.post(f"/leads/{leads['a']}/activities", {"kind": "call"}).status_code == 201
    response = api.post(f"/leads/{leads['a']}/assign", {"owner_id": team.members["sales2"].id})
    assert_error(response, 403, "forbidden")
    assert Lead.objects.get(pk=leads["a"]).owner == team.members["sales"]


def test_sales_report_counts_only_their_leads(team, leads):
    rows = team.api("sales").get("/reports/funnel").json()["rows"]
    assert rows[0]["stage"] == "new" and rows[0]["count"] == 1


# ------------------------------------------------------------------ managers and admins


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_and_change_every_lead(team, leads, role):
    api = team.api(role)
    assert ids(api.get("/leads")) == set(leads.values())
    b = leads["b"]
    assert api.get(f"/leads/{b}").status_code == 200
    assert api.post(f"/leads/{b}/stage", {"stage": "k3"}).status_code == 200
    assert api.post(f"/leads/{b}/activities", {"kind": "note", "body": "x"}).status_code == 201
    response = api.post(f"/leads/{b}/assign", {"owner_id": team.members["sales"].id})
    assert response.status_code == 200
    assert response.json()["owner"]["id"] == team.members["sales"].id


# ------------------------------------------------------------------ marketers


def test_marketers_see_every_lead_but_cannot_work_or_assign(team, leads):
    api = team.api("marketer")
    assert ids(api.get("/leads")) == set(leads.values())
    assert api.get(f"/leads/{leads['b']}").status_code == 200
    assert_error(api.post(f"/leads/{leads['b']}/stage", {"stage": "k3"}), 403, "forbidden")
    assert_error(
        api.post(f"/leads/{leads['b']}/assign", {"owner_id": team.members["sales"].id}),
        403,
        "forbidden",
    )
    assert_error(api.post(f"/leads/{leads['b']}/activities", {"kind": "call"}), 403, "forbidden")
    assert not LeadEvent.objects.filter(kind__in=["stage", "activity"]).exists()
    assert Lead.objects.get(pk=leads["b"]).owner == team.members["sales2"]


def test_marketers_capture_leads_and_create_campaigns_and_channels(team):
    api = team.api("marketer")
    assert api.post("/leads", {"phone": phone(1)}).status_code == 201
    assert api.post("/campaigns", {"name": "Hè 2026"}).status_code == 201
    assert api.post("/channels", {"kind": "form", "name": "Landing"}).status_code == 201


# ------------------------------------------------------------------ workspace setup


@pytest.mark.parametrize("role", ["manager", "marketer", "sales"])
def test_only_admins_add_members(team, role):
    body = {"email": "new@acme.test", "full_name": "Người Mới", "role": "sales"}
    assert_error(team.api(role).post("/members", body), 403, "forbidden")
    assert team.api("admin").post("/members", body).status_code == 201


@pytest.mark.parametrize("role", ["manager", "sales"])
def test_only_admins_and_marketers_add_channels(team, role):
    assert_error(team.api(role).post("/channels", {"kind": "form", "name": "x"}), 403)
    assert not Channel.objects.exists()


def test_sales_cannot_create_campaigns(team):
    assert_error(team.api("sales").post("/campaigns", {"name": "Hè 2026"}), 403)
    assert team.api("manager").post("/campaigns", {"name": "Hè 2026"}).status_code == 201


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "sales"])
def test_every_role_reads_stages_members_campaigns_and_reports(team, role):
    api = team.api(role)
    for path in ("/stages", "/members", "/campaigns", "/reports/stages", "/reports/funnel"):
        assert api.get(path).status_code == 200, path
    # and every role may hand in leads (a rep types in a walk-in customer, a marketer imports)
    assert api.post("/leads", {"phone": phone(50)}).status_code in (200, 201)
    bulk = api.post("/leads/bulk", {"leads": [{"phone": phone(51)}]})
    assert bulk.status_code == 200 and bulk.json()["results"][0]["status"] in (200, 201)


# ------------------------------------------------------------------ tenancy


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "sales"])
def test_another_workspaces_lead_is_a_404_everywhere(team, theirs, role):
    api = team.api(role)
    assert_error(api.get(f"/leads/{theirs.pk}"), 404)
    assert_error(api.post(f"/leads/{theirs.pk}/stage", {"stage": "k3"}), 404)
    assert_error(api.post(f"/leads/{theirs.pk}/activities", {"kind": "note"}), 404)
    assert_error(
        api.post(f"/leads/{theirs.pk}/assign", {"owner_id": team.members["sales"].id}), 404
    )
    theirs.refresh_from_db()
    assert theirs.stage.key == "new"
    assert not theirs.activities.exists()


def test_lists_and_reports_never_show_another_workspace(team, other_team, leads, theirs):
    api = team.api("admin")
    assert theirs.pk not in ids(api.get("/leads", page_size=200))
    assert ids(api.get("/leads", q="doi thu")) == set()
    assert ids(api.get("/leads", owner=str(other_team.members["sales"].id))) == set()
    funnel = api.get("/reports/funnel").json()["rows"]
    assert funnel[0]["count"] == 2
    emails = {m["email"] for m in api.get("/members").json()}
    assert emails == {f"{r}@acme.test" for r in ("admin", "manager", "marketer", "sales", "sales2")}


def test_assigning_to_another_workspaces_member_never_succeeds(team, other_team, leads):
    stranger = other_team.members["sales"]
    response = team.api("admin").post(f"/leads/{leads['a']}/assign", {"owner_id": stranger.id})
    assert_error(response)
    assert response.status_code in (404, 422)
    assert Lead.objects.get(pk=leads["a"]).owner == team.members["sales"]


def test_same_phone_in_two_workspaces_is_two_contacts(team, other_team):
    ours = team.api("admin").post("/leads", {"phone": phone(7)}).json()
    theirs = other_team.api("admin").post("/leads", {"phone": phone(7)}).json()
    assert ours["created"] and theirs["created"]
    assert Contact.objects.filter(phone_e164="+84910000007").count() == 2


def test_a_token_acts_in_its_own_workspace_only(team, other_team):
    theirs = other_team.api("admin")
    created = theirs.post("/leads", {"phone": phone(3)}).json()
    assert Lead.objects.get(pk=created["id"]).workspace == other_team.workspace
    assert_error(team.api("admin").get(f"/leads/{created['id']}"), 404)


# ------------------------------------------------------------------ authentication

ENDPOINTS = [
    ("get", "/leads"),
    ("post", "/leads"),
    ("post", "/leads/bulk"),
    ("get", "/leads/1"),
    ("post", "/leads/1/stage"),
    ("post", "/leads/1/assign"),
    ("post", "/leads/1/activities"),
    ("get", "/stages"),
    ("get", "/members"),
    ("post", "/members"),
    ("get", "/campaigns"),
    ("post", "/campaigns"),
    ("post", "/channels"),
    ("get", "/reports/stages"),
    ("get", "/reports/funnel"),
]


def _call(client: Client, method: str, path: str, **extra):
    if method == "get":
        return client.get(f"/api/v1{path}", **extra)
    return client.post(f"/api/v1{path}", data="{}", content_type="application/json", **extra)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer nonsense",
        "Bearer ll_abc_def",
        "Basic dXNlcjpwdw==",
        "Token ll_x_y",
    ],
)
def test_missing_or_invalid_token_is_a_401_json(db, method, path, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    assert_error(_call(Client(), method, path, **extra), 401, "unauthorized")


def test_a_revoked_token_is_a_401_and_a_wrong_secret_too(team):
    token, key = token_create(
        workspace=team.workspace, actor=Actor.system(team.workspace), name="ci", role="admin"
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/stages").status_code == 200
    forged = Client(HTTP_AUTHORIZATION=f"Bearer {key[:-4]}abcd")
    assert_error(forged.get("/api/v1/stages"), 401)
    token_revoke(token=token, actor=team.actors["admin"])
    for method, path in ENDPOINTS:
        assert_error(_call(client, method, path), 401)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_the_token_of_a_deactivated_member_is_a_401_and_works_again_if_reactivated(team):
    rep = team.members["sales"]
    _token, key = token_create(
        workspace=team.workspace, actor=Actor.system(team.workspace), name="rep's phone",
        role=rep.role, member=rep,
    )  # fmt: skip
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    lead = capture(team, phone=phone(1)).lead
    lead_assign(lead=lead, actor=team.actors["admin"], owner_id=rep.id)
    assert client.get("/api/v1/leads", {"owner": "me"}).status_code == 200
    member_update(member=rep, actor=team.actors["admin"], active=False)
    for method, path in ENDPOINTS:
        assert_error(_call(client, method, path), 401)
    refused = client.post(
        f"/api/v1/leads/{lead.pk}/stage", '{"stage": "k2"}', content_type="application/json"
    )
    assert_error(refused, 401)
    assert Lead.objects.get(pk=lead.pk).stage.key == "new"
    member_update(member=rep, actor=team.actors["admin"], active=True)
    assert client.get("/api/v1/leads", {"owner": "me"}).status_code == 200


def test_a_session_login_does_not_open_the_api(team):
    client = team.browser_client("admin")
    assert_error(client.get("/api/v1/leads"), 401)


def test_the_openapi_document_lists_every_contract_endpoint(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for _method, path in ENDPOINTS:
        assert "/api/v1" + path.replace("/1", "/{lead_id}") in paths, path
    assert Client().get("/api/v1/docs").status_code == 200
