"""/settings/: members, teams, stages and API tokens; admins only, managers may look at members."""

import pytest
from django.test import Client

from leadloop.core.models import ApiToken, Member, Team
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, Stage
from tests.conftest import PASSWORD, ApiClient
from tests.web.leads import browser, capture


def stage_keys(team) -> list[str]:
    return list(Stage.objects.filter(workspace=team.workspace).values_list("key", flat=True))


def test_an_admin_sees_every_section(team):
    response = browser(team, "admin").get("/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    for section in ('id="members"', 'id="teams"', 'id="stages"', 'id="tokens"'):
        assert section in html
    assert "sales2@acme.test" in html


def test_a_manager_sees_the_members_and_edits_only_their_routing(team):
    response = browser(team, "manager").get("/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "sales2@acme.test" in html
    assert 'id="stages"' not in html and 'id="tokens"' not in html
    members = html.split('id="members"')[1].split("</section>")[0]
    assert 'action="/settings/members/' in members and "new-member-email" not in members
    forms = members.count("<form")
    assert forms == members.count("/routing/") == len(team.members) - 1  # not the marketer


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_others_get_the_forbidden_page(team, role):
    response = browser(team, role).get("/settings/")
    assert response.status_code == 403
    assert "Only admins and managers can open the settings." in response.content.decode()


def test_adding_a_member_who_then_logs_in(team):
    response = browser(team, "admin").post(
        "/settings/members/",
        {
            "new-member-email": "Moi@acme.test",
            "new-member-full_name": "Nhân Viên Mới",
            "new-member-role": "sales",
            "new-member-team": str(team.workspace.teams.get(name="Sales").pk),
            "new-member-capacity": "20",
            "new-member-active": "on",
            "new-member-password": PASSWORD,
        },
    )
    assert response.status_code == 302
    member = Member.objects.get(workspace=team.workspace, user__email="moi@acme.test")
    assert (member.role, member.team.name, member.capacity) == ("sales", "Sales", 20)
    client = Client()
    assert client.post("/login/", {"username": "moi@acme.test", "password": PASSWORD}).url == "/"


def test_a_short_password_is_refused_in_the_page_language(team):
    fields = {
        "new-member-email": "moi@acme.test",
        "new-member-full_name": "Nhân Viên Mới",
        "new-member-role": "sales",
        "new-member-capacity": "20",
        "new-member-password": "short",
    }
    response = browser(team, "admin", "vi").post("/settings/members/", fields)
    assert response.status_code == 400
    assert "Mật khẩu quá ngắn: cần ít nhất 8 ký tự." in response.content.decode()


def test_adding_someone_twice_is_refused_on_the_form(team):
    response = browser(team, "admin").post(
        "/settings/members/",
        {
            "new-member-email": "sales@acme.test",
            "new-member-full_name": "Again",
            "new-member-role": "sales",
            "new-member-capacity": "30",
        },
    )
    assert response.status_code == 400
    assert "This person is already a member." in response.content.decode()


def test_adding_a_member_of_another_workspace_keeps_their_password(team, other_team):
    browser(team, "admin").post(
        "/settings/members/",
        {
            "new-member-email": "admin@rival.test",
            "new-member-full_name": "Rival Admin",
            "new-member-role": "sales",
            "new-member-capacity": "30",
            "new-member-password": "a-takeover-attempt-42",
        },
    )
    assert (
        Client().post("/login/", {"username": "admin@rival.test", "password": PASSWORD}).status_code
        == 302
    )
    assert (
        Client()
        .post("/login/", {"username": "admin@rival.test", "password": "a-takeover-attempt-42"})
        .status_code
        == 200
    )


def test_a_manager_cannot_add_members(team):
    response = browser(team, "manager").post(
        "/settings/members/",
        {
            "new-member-email": "x@acme.test",
            "new-member-full_name": "X",
            "new-member-role": "admin",
            "new-member-capacity": "30",
        },
    )
    assert response.status_code == 403
    assert not Member.objects.filter(user__email="x@acme.test").exists()


def test_editing_a_member(team):
    sales = team.members["sales"]
    response = browser(team, "admin").post(
        f"/settings/members/{sales.pk}/",
        {
            f"member-{sales.pk}-full_name": "Sales Một",
            f"member-{sales.pk}-role": "manager",
            f"member-{sales.pk}-team": "",
            f"member-{sales.pk}-language": "en",
        },
    )
    assert response.status_code == 302
    sales.refresh_from_db()
    assert (sales.role, sales.team, sales.active, sales.language) == ("manager", None, False, "en")


def _deactivate(team, role: str):
    member = team.members[role]
    fields = {
        f"member-{member.pk}-full_name": member.full_name,
        f"member-{member.pk}-role": member.role,
        f"member-{member.pk}-team": "",
        f"member-{member.pk}-language": "en",
    }
    client = browser(team, "admin")
    assert client.post(f"/settings/members/{member.pk}/", fields).status_code == 302
    return client.get("/settings/").content.decode()


def test_deactivating_a_rep_says_where_their_open_leads_went(team):
    for _n in range(5):
        capture(team, owner="sales")
    page = _deactivate(team, "sales")
    assert "Member saved." in page and "5 open leads went to other reps." in page
    told = Notification.objects.filter(member=team.members["sales2"], kind="lead_assigned")
    assert told.filter(count=5).count() == 1  # one summary, not a toast per lead
    assert Lead.objects.filter(owner=team.members["sales2"], is_open=True).count() == 5


def test_deactivating_the_only_rep_says_their_leads_wait_in_the_queue(team):
    lead = capture(team, owner="sales")
    Member.objects.filter(pk=team.members["sales2"].pk).update(away=True)
    page = _deactivate(team, "sales")
    assert (
        "1 open lead of Sales Một waits in the queue: no rep can take it now. "
        "It goes to the first who can."
    ) in page
    assert "went to other reps" not in page
    timeline = team.browser_client("admin").get(f"/leads/{lead.pk}/?lang=en").content.decode()
    assert "Taken from Sales Một to wait in the queue" in timeline


@pytest.mark.parametrize(("role", "active"), [("sales", "on"), ("admin", "")])
def test_the_last_admin_cannot_demote_or_deactivate_themselves(team, role, active):
    admin = team.members["admin"]
    fields = {
        f"member-{admin.pk}-full_name": admin.full_name,
        f"member-{admin.pk}-role": role,
        f"member-{admin.pk}-team": "",
        f"member-{admin.pk}-language": "vi",
    } | ({f"member-{admin.pk}-active": active} if active else {})
    response = browser(team, "admin").post(f"/settings/members/{admin.pk}/", fields)
    assert response.status_code == 400
    admin.refresh_from_db()
    assert (admin.role, admin.active) == ("admin", True)
    assert browser(team, "admin").get("/settings/").status_code == 200  # still reachable
    # with a second admin, the first may step down
    manager = team.members["manager"]
    Member.objects.filter(pk=manager.pk).update(role="admin")
    response = browser(team, "admin").post(f"/settings/members/{admin.pk}/", fields)
    assert response.status_code == 302
    admin.refresh_from_db()
    assert (admin.role, admin.active) == (role, bool(active))


def test_another_workspace_member_is_not_found(team, other_team):
    theirs = other_team.members["sales"]
    response = team.browser_client("admin").post(f"/settings/members/{theirs.pk}/", {})
    assert response.status_code == 404


def test_adding_a_team(team):
    client = browser(team, "admin")
    assert (
        client.post(
            "/settings/teams/", {"team-name": "Telesales HN", "team-kind": "sales"}
        ).status_code
        == 302
    )
    assert team.workspace.teams.filter(name="Telesales HN", kind="sales").exists()
    for name in ("Telesales HN", "telesales  hn"):  # the same name, whatever its case
        again = client.post("/settings/teams/", {"team-name": name, "team-kind": "sales"})
        assert again.status_code == 400
        assert "A team with this name exists." in again.content.decode()
    assert team.workspace.teams.filter(name__icontains="telesales").count() == 1


def test_two_stages_of_one_name_are_refused(team):
    client = browser(team, "admin")
    fields = {"new-stage-name_vi": "Đã hẹn gặp", "new-stage-category": "qualified"}
    assert (
        client.post("/settings/stages/", fields | {"new-stage-name_en": "Booked"}).status_code
        == 302
    )
    for name_vi, name_en in (("đã  HẸN gặp", ""), ("Khác", "booked"), ("Booked", "")):
        again = {**fields, "new-stage-name_vi": name_vi, "new-stage-name_en": name_en}
        response = client.post("/settings/stages/", again)
        assert response.status_code == 400
        assert "A stage with this name exists." in response.content.decode()
    renamed = {
        "stage-k2-name_vi": "Đã hẹn gặp",
        "stage-k2-name_en": "K2",
        "stage-k2-category": "qualified",
    }
    assert client.post("/settings/stages/k2/", renamed).status_code == 400
    assert Stage.objects.filter(workspace=team.workspace, name_vi="Đã hẹn gặp").count() == 1
    # stages of one name from before this check can still be archived, unrenamed
    Stage.objects.filter(workspace=team.workspace, key="k3").update(name_vi="Đã hẹn gặp")
    k3 = Stage.objects.get(workspace=team.workspace, key="k3")
    archived = {
        "stage-k3-name_vi": k3.name_vi,
        "stage-k3-name_en": k3.name_en,
        "stage-k3-category": k3.category,
        "stage-k3-archived": "on",
    }
    assert client.post("/settings/stages/k3/", archived).status_code == 302


def test_adding_renaming_and_archiving_a_stage(team):
    client = browser(team, "admin")
    response = client.post(
        "/settings/stages/",
        {
            "new-stage-name_vi": "Hẹn gặp",
            "new-stage-name_en": "Meeting set",
            "new-stage-category": "qualified",
        },
    )
    assert response.status_code == 302
    keys = stage_keys(team)  # after the open stages, before the closing ones (K1, K4.1, K4.2)
    assert keys[keys.index("meeting-set") + 1 :] == ["k1", "k4-1", "k4-2"]
    response = client.post(
        "/settings/stages/meeting-set/",
        {
            "stage-meeting-set-name_vi": "Đã hẹn gặp",
            "stage-meeting-set-name_en": "Meeting booked",
            "stage-meeting-set-category": "qualified",
            "stage-meeting-set-archived": "on",
        },
    )
    assert response.status_code == 302
    stage = Stage.objects.get(workspace=team.workspace, key="meeting-set")
    assert (stage.name_vi, stage.name_en, stage.archived) == ("Đã hẹn gặp", "Meeting booked", True)


def test_archiving_the_last_new_stage_is_refused(team):
    response = browser(team, "admin").post(
        "/settings/stages/new/",
        {
            "stage-new-name_vi": "Mới",
            "stage-new-name_en": "New",
            "stage-new-category": "new",
            "stage-new-archived": "on",
        },
    )
    assert response.status_code == 400
    assert "Keep at least one active stage of category New." in response.content.decode()


def test_moving_stages_up_and_down(team):
    client = browser(team, "admin")
    before = stage_keys(team)
    client.post("/settings/stages/k2/move/", {"direction": "up"})
    assert stage_keys(team) == [before[0], "k2", "k3", *before[3:]]
    client.post("/settings/stages/k2/move/", {"direction": "down"})
    assert stage_keys(team) == before
    client.post(f"/settings/stages/{before[-1]}/move/", {"direction": "down"})
    assert stage_keys(team) == before


def test_a_manager_cannot_move_stages(team):
    assert (
        browser(team, "manager").post("/settings/stages/k2/move/", {"direction": "up"}).status_code
        == 403
    )


def _token_form_mark(client) -> str:
    """The mark of the token form the settings page shows this client."""
    return client.get("/settings/").context["token_form"]["once"].initial


def test_an_api_token_is_shown_once_and_works(team):
    client = browser(team, "admin")
    mark = _token_form_mark(client)
    for _n in range(6):  # the settings shown in another tab meanwhile take nothing from it
        client.get("/settings/")
    form = {"token-name": "Zapier", "token-role": "marketer", "token-once": mark}
    response = client.post("/settings/tokens/", form)
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key in response.content.decode()
    assert ApiClient(key).get("/stages").status_code == 200
    assert key not in client.get("/settings/").content.decode()
    again = client.post("/settings/tokens/", form, follow=True)  # the answer reloaded
    assert "This form made its token already; its key was shown then." in again.content.decode()
    assert ApiToken.objects.filter(name="Zapier").count() == 1
    token = ApiToken.objects.get(name="Zapier")
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiClient(key).get("/stages").status_code == 401


def test_a_token_for_a_member(team):
    sales, client = team.members["sales"], browser(team, "admin")
    mark = _token_form_mark(client)
    client.post(
        "/settings/tokens/",
        {"token-name": "phone app", "token-role": "sales", "token-member": str(sales.pk)}
        | {"token-once": mark},
    )
    assert ApiToken.objects.get(name="phone app").member == sales


def test_a_token_cannot_act_for_a_member_who_left(team):
    gone, client = team.members["sales2"], browser(team, "admin")
    Member.objects.filter(pk=gone.pk).update(active=False)
    mark = _token_form_mark(client)
    assert f'<option value="{gone.pk}">' not in client.get("/settings/").content.decode()
    form = {"token-name": "x", "token-role": "sales", "token-member": str(gone.pk)}
    refused = client.post("/settings/tokens/", form | {"token-once": mark})
    assert refused.status_code == 400 and not ApiToken.objects.filter(name="x").exists()


def test_the_settings_page_queries_are_bounded(team, django_assert_max_num_queries):
    client = team.browser_client("admin")
    with django_assert_max_num_queries(16):
        client.get("/settings/")


def test_a_team_lists_its_active_members_and_can_be_renamed(team, other_team):
    client = browser(team, "admin")
    sales_team = team.members["sales"].team
    page = client.get("/settings/?lang=en").content.decode()
    listed = page.split(f'id="team-{sales_team.pk}">')[1].split("</li>")[0]
    assert "Sales Hai" in listed and "Sales Một" in listed
    answer = client.post(
        f"/settings/teams/{sales_team.pk}/", {f"team-{sales_team.pk}-name": " Nhóm  Hà Nội "}
    )
    assert answer.status_code == 302
    sales_team.refresh_from_db()
    assert sales_team.name == "Nhóm Hà Nội"
    other = Team.objects.create(workspace=team.workspace, name="Nhóm Đà Nẵng", kind="sales")
    clash = client.post(f"/settings/teams/{other.pk}/", {f"team-{other.pk}-name": "nhóm hà nội"})
    assert clash.status_code == 400 and "A team with this name exists." in clash.content.decode()
    theirs = Team.objects.create(workspace=other_team.workspace, name="Theirs", kind="sales")
    assert (
        client.post(f"/settings/teams/{theirs.pk}/", {f"team-{theirs.pk}-name": "x"}).status_code
        == 404
    )
    assert (
        browser(team, "manager")
        .post(f"/settings/teams/{sales_team.pk}/", {f"team-{sales_team.pk}-name": "x"})
        .status_code
        == 403
    )
    assert Team.objects.get(pk=theirs.pk).name == "Theirs"
