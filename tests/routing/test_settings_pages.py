"""Settings → Assignment rules, SLA policy, the members' routing, stages and the away switch."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.core.models import Member
from leadloop.intake.services import channel_create
from leadloop.pipeline.models import Stage
from leadloop.pipeline.services import stage_update
from leadloop.routing.engine import fallback_rule, policy_of
from leadloop.routing.models import Rule
from leadloop.routing.services import policy_update, rule_create
from tests.core.support import at, capture, local, phone
from tests.routing.support import add_rep
from tests.web.leads import browser

NEW_RULE = {
    "new-rule-name": "Facebook Hà Nội",
    "new-rule-active": "on",
    "new-rule-sources": "Facebook, Zalo",
    "new-rule-campaigns": "",
    "new-rule-languages": "vi",
    "new-rule-field_conditions": "province = Hà Nội, Hải Phòng\nbudget = 2 tỷ",
    "new-rule-team": "",
    "new-rule-strategy": "weighted",
}


def html(response) -> str:
    return response.content.decode()


def add_rules(team, n: int) -> None:
    reps = [team.members["sales"].pk, team.members["sales2"].pk]
    web = channel_create(
        workspace=team.workspace, actor=team.actors["admin"], kind="form", name="W", settings={}
    )
    for i in range(n):
        rule_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            name=f"Rule {i}",
            conditions={"source": ["facebook"], "channel": [web.pk], "fields": {"a": ["b"]}},
            member_ids=reps,
        )


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_rules_page_lists_rules_in_order_with_the_fallback_last(team, role):
    add_rules(team, 2)
    page = html(browser(team, role).get("/settings/routing/"))
    assert page.index("Rule 0") < page.index("Rule 1") < page.index("Everything else (fallback)")
    assert "source: facebook" in page and "channel: W" in page and "Sales Hai, Sales Một" in page
    assert page.count("/delete/") == 2  # not the fallback


def test_a_rule_names_sources_and_campaigns_as_people_wrote_them(team):
    capture(team, phone="0912000555", source="Facebook Ads", campaign="Tết 2027")
    rule_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        name="Tết",
        conditions={"source": ["facebook-ads", "zalo"], "campaign": ["tet-2027"]},
    )
    page = html(browser(team, "manager").get("/settings/routing/"))
    assert "source: Facebook Ads, zalo" in page  # no lead came from zalo yet: its key
    assert "campaign: Tết 2027" in page and "tet-2027" not in page.split('id="tester"')[0]


@pytest.mark.parametrize("role", ["sales", "marketer"])
def test_sales_and_marketers_cannot_open_the_routing_pages(team, role):
    client = browser(team, role)
    fallback = fallback_rule(team.workspace).pk
    for response in (
        client.get("/settings/routing/"),
        client.get(f"/settings/routing/{fallback}/"),
        client.get("/settings/sla/"),
        client.post("/settings/routing/", NEW_RULE),
        client.post("/settings/sla/", {}),
    ):
        assert response.status_code == 403
    assert not Rule.objects.filter(fallback=False).exists()


def test_adding_a_rule_from_friendly_inputs(team):
    named = team.members["sales2"]
    response = browser(team, "admin").post(
        "/settings/routing/", NEW_RULE | {"new-rule-members": [str(named.pk)]}
    )
    assert response.status_code == 302
    rule = Rule.objects.get(name="Facebook Hà Nội")
    assert rule.conditions == {
        "source": ["facebook", "zalo"],
        "language": ["vi"],
        "fields": {"province": ["Hà Nội", "Hải Phòng"], "budget": ["2 tỷ"]},
    }
    assert (rule.strategy, list(rule.members.all())) == ("weighted", [named])
    fields = {"province": "Hải Phòng", "budget": "2 tỷ", "language": "vi"}
    lead = capture(team, phone=phone(1), source="zalo", fields=fields).lead
    assert lead.owner == named


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"new-rule-field_conditions": "province Hà Nội"}, "Write each line as name = value1"),
        ({"new-rule-sources": "!!!"}, "A list of at most 50 source names."),
        ({"new-rule-name": ""}, "This field is required."),
    ],
)
def test_a_refused_rule_shows_why_on_the_form(team, change, message):
    response = browser(team, "admin").post("/settings/routing/", NEW_RULE | change)
    assert response.status_code == 400
    assert message in html(response)
    assert not Rule.objects.filter(fallback=False).exists()


def test_team_and_named_reps_together_are_refused_on_the_form(team):
    sales_team = team.workspace.teams.get(name="Sales").pk
    body = NEW_RULE | {
        "new-rule-team": str(sales_team),
        "new-rule-members": [str(team.members["sales"].pk)],
    }
    response = browser(team, "manager").post("/settings/routing/", body)
    assert response.status_code == 400
    assert "Give a team or named reps, not both." in html(response)


def test_editing_moving_and_deleting_rules(team):
    add_rules(team, 3)
    client = browser(team, "manager")
    first, second, third = Rule.objects.filter(fallback=False)
    prefix = f"rule-{second.pk}"
    form = client.get(f"/settings/routing/{second.pk}/")
    assert form.status_code == 200 and "a = b" in html(form)
    response = client.post(
        f"/settings/routing/{second.pk}/",
        {
            f"{prefix}-name": "Renamed",
            f"{prefix}-sources": "google",
            f"{prefix}-strategy": "least_busy",
            f"{prefix}-members": [str(team.members["sales"].pk)],
        },
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.name, second.active, second.conditions, second.strategy) == (
        "Renamed",
        False,
        {"source": ["google"]},
        "least_busy",
    )
    client.post(f"/settings/routing/{third.pk}/move/", {"direction": "up"})
    order = list(Rule.objects.filter(fallback=False).values_list("pk", flat=True))
    assert order == [first.pk, third.pk, second.pk]
    client.post(f"/settings/routing/{first.pk}/move/", {"direction": "up"})  # already first
    assert list(Rule.objects.filter(fallback=False).values_list("pk", flat=True)) == order
    assert client.post(f"/settings/routing/{third.pk}/delete/").status_code == 302
    assert not Rule.objects.filter(pk=third.pk).exists()


def test_the_fallback_form_edits_only_its_reps_and_strategy(team):
    fallback = fallback_rule(team.workspace)
    client = browser(team, "admin")
    page = html(client.get(f"/settings/routing/{fallback.pk}/"))
    assert f"rule-{fallback.pk}-strategy" in page and f"rule-{fallback.pk}-sources" not in page
    response = client.post(
        f"/settings/routing/{fallback.pk}/",
        {
            f"rule-{fallback.pk}-strategy": "weighted",
            f"rule-{fallback.pk}-members": [str(team.members["sales2"].pk)],
            f"rule-{fallback.pk}-sources": "ignored",
        },
    )
    assert response.status_code == 302
    fallback.refresh_from_db()
    assert (fallback.strategy, fallback.conditions) == ("weighted", {})
    assert list(fallback.members.all()) == [team.members["sales2"]]
    assert client.post(f"/settings/routing/{fallback.pk}/delete/").status_code == 422
    assert Rule.objects.filter(pk=fallback.pk).exists()


def test_another_workspaces_rule_is_404(team, other_team):
    theirs = fallback_rule(other_team.workspace).pk
    client = browser(team, "admin")
    assert client.get(f"/settings/routing/{theirs}/").status_code == 404
    assert client.post(f"/settings/routing/{theirs}/delete/").status_code == 404


def test_the_tester_answers_on_the_page_and_as_an_htmx_swap(team):
    rep = add_rep(team, "Hà", away=True)
    rule_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        name="Facebook",
        conditions={"source": ["facebook"]},
        member_ids=[rep.pk, team.members["sales2"].pk],
    )
    client = browser(team, "manager")
    query = {"test": "1", "source": "Facebook", "lead_fields": "province = Hà Nội"}
    page = html(client.get("/settings/routing/", query))
    answer = page.split('id="preview-answer"')[1]
    assert "It would go to <strong>Sales Hai</strong>" in answer
    assert "rule “Facebook”" in answer and "Away" in answer
    swap = client.get("/settings/routing/", query, headers={"HX-Request": "true"})
    assert html(swap).startswith('<div id="preview-answer"') and "<html" not in html(swap)
    assert "It would go to <strong>Sales Hai</strong>" in html(swap)
    assert "preview-answer" in page and "It would go to" not in html(
        client.get("/settings/routing/")
    )
    bad = html(client.get("/settings/routing/", {"test": "1", "lead_fields": "no equals sign"}))
    assert "Write each line as name = value." in bad


def test_the_tester_says_when_a_closed_workspace_opens(team):
    hours = {str(day): [["08:00", "17:00"]] for day in range(5)}
    policy_update(workspace=team.workspace, actor=team.actors["admin"], business_hours=hours)
    client = browser(team, "manager")
    with at(local(date(2027, 3, 5), 20)):  # a Friday evening: open again on Monday
        answer = html(client.get("/settings/routing/", {"test": "1", "lang": "en"}))
    assert "Nobody can take it now" in answer
    assert "The workspace is closed now; it opens at 08/03/2027 08:00." in answer
    with at(local(date(2027, 3, 8), 10)):
        answer = html(client.get("/settings/routing/", {"test": "1", "lang": "en"}))
    assert "It would go to" in answer and "The workspace is closed now" not in answer


def test_the_rules_page_makes_the_same_queries_for_few_or_many_rules(team):
    client = browser(team, "admin")
    client.get("/settings/routing/", {"test": "1"})  # the fallback and the policy exist now
    add_rules(team, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/settings/routing/", {"test": "1"}).status_code == 200
    add_rules(team, 10)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/settings/routing/", {"test": "1"}).status_code == 200
    assert len(many) == len(few) <= 25, [q["sql"] for q in many]


# ---- the SLA policy page


POLICY_FORM = {
    "always": "",
    "hours_0": "08:00-12:00, 13:30-17:30",
    "hours_1": "08:00–17:30",
    "hours_5": "08:00-11:00",
    "holidays": "2027-02-16\n17/02/2027\n",
    "return_to_owner": "on",
    "assign_minutes": "10",
    "first_contact_minutes": "20",
    "attempt_cadence": "30m, 2h, next_morning",
    "not_reached_stage": "k4-1",
    "idle_hours": "8",
    "journey_days": "14",
    "journey_end_stage": "k4-2",
}


def test_the_sla_page_saves_the_policy(team):
    client = browser(team, "manager")
    assert "Open 24/7" in html(client.get("/settings/sla/"))
    response = client.post("/settings/sla/", POLICY_FORM)
    assert response.status_code == 302, html(response)[:3000]
    policy = policy_of(team.workspace)
    assert policy.business_hours == {
        "0": [["08:00", "12:00"], ["13:30", "17:30"]],
        "1": [["08:00", "17:30"]],
        "5": [["08:00", "11:00"]],
    }
    assert policy.holidays == ["2027-02-16", "2027-02-17"]
    assert policy.attempt_cadence == ["30m", "2h", "next_morning"]
    assert (policy.not_reached_stage.key, policy.journey_end_stage.key) == ("k4-1", "k4-2")
    assert (policy.assign_minutes, policy.first_contact_minutes, policy.idle_hours) == (10, 20, 8)
    page = html(client.get("/settings/sla/"))
    assert 'value="08:00-12:00, 13:30-17:30"' in page and "16/02/2027\n17/02/2027" in page
    client.post("/settings/sla/", POLICY_FORM | {"always": "on", "not_reached_stage": ""})
    policy = policy_of(team.workspace)
    assert policy.business_hours == {} and policy.not_reached_stage is None


def test_a_stage_archived_since_stays_in_the_policy_when_something_else_is_saved(team):
    client = browser(team, "admin")
    assert client.post("/settings/sla/", POLICY_FORM).status_code == 302
    end = Stage.objects.get(workspace=team.workspace, key="k4-2")
    stage_update(
        stage=end,
        actor=team.actors["admin"],
        name_vi=end.name_vi,
        name_en=end.name_en,
        category=end.category,
        archived=True,
    )
    page = html(client.get("/settings/sla/"))
    assert f'<option value="k4-2" selected>{end.name} (archived)</option>' in page
    changed = POLICY_FORM | {"holidays": "2027-09-02"}
    assert client.post("/settings/sla/", changed).status_code == 302
    policy = policy_of(team.workspace)
    assert policy.holidays == ["2027-09-02"] and policy.journey_end_stage == end
    other = client.post("/settings/sla/", POLICY_FORM | {"not_reached_stage": "k4-2"})
    assert other.status_code == 400  # an archived stage is not chosen anew
    assert client.post("/settings/sla/", POLICY_FORM | {"journey_end_stage": ""}).status_code == 302
    assert policy_of(team.workspace).journey_end_stage is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hours_0": "8h to 12h"}, "Write times like 08:00-12:00, 13:30-17:30."),
        ({"hours_2": "17:00-08:00"}, "A span ends before it starts: write a night shift as two"),
        ({"hours_3": "08:00-12:00, 11:00-17:00"}, "The spans overlap"),
        ({"holidays": "16/02/3100"}, "in the years 1900 to 2999"),
        ({"hours_0": "", "hours_1": "", "hours_5": ""}, "Give the opening hours of at least one"),
        ({"holidays": "Tết"}, "Tết is not a date like 16/02/2027 or 2027-02-16."),
        ({"attempt_cadence": "3h, soon"}, "soon is not a delay: write 30m, 2h, 1d or next_morning"),
        ({"attempt_cadence": ", ".join(["1h"] * 21)}, "At most 20 delays."),
        ({"assign_minutes": "0"}, "Ensure this value is greater than or equal to 1."),
    ],
)
def test_a_bad_policy_shows_why_on_the_form(team, change, message):
    response = browser(team, "admin").post("/settings/sla/", POLICY_FORM | change)
    assert response.status_code == 400
    assert message in html(response)
    assert policy_of(team.workspace).assign_minutes == 5


def test_every_error_of_the_policy_form_shows_at_once(team):
    bad = {"hours_0": "8h-17h", "holidays": "30/02/2027", "attempt_cadence": "3h, chiều nay"}
    page = html(browser(team, "admin").post("/settings/sla/", POLICY_FORM | bad))
    assert "Write times like 08:00-12:00, 13:30-17:30." in page
    assert "30/02/2027 is not a date like 16/02/2027 or 2027-02-16." in page
    assert "chiều nay is not a delay: write 30m, 2h, 1d or next_morning." in page


def test_the_call_plan_reads_next_morning_as_people_write_it(team):
    client = browser(team, "admin")
    plan = {"attempt_cadence": "30m, Sáng mai, sáng hôm sau, next morning"}
    assert client.post("/settings/sla/", POLICY_FORM | plan).status_code == 302
    assert policy_of(team.workspace).attempt_cadence == ["30m", *["next_morning"] * 3]


# ---- members, stages and the away switch


def test_a_manager_sets_a_reps_capacity_limit_weight_hours_and_away(team):
    rep = team.members["sales"]
    prefix = f"routing-{rep.pk}"
    response = browser(team, "manager").post(
        f"/settings/members/{rep.pk}/routing/",
        {
            f"{prefix}-capacity": "25",
            f"{prefix}-daily_limit": "10",
            f"{prefix}-weight": "2",
            f"{prefix}-away": "on",
            f"{prefix}-hours_0": "13:00-21:00",
        },
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert (rep.capacity, rep.daily_limit, rep.weight, rep.away) == (25, 10, 2, True)
    assert rep.working_hours == {"0": [["13:00", "21:00"]]}
    page = html(browser(team, "manager").get("/settings/"))
    assert 'value="13:00-21:00"' in page


def test_a_bad_routing_form_is_shown_again_with_its_error(team):
    rep = team.members["sales"]
    prefix = f"routing-{rep.pk}"
    response = browser(team, "admin").post(
        f"/settings/members/{rep.pk}/routing/",
        {f"{prefix}-capacity": "1", f"{prefix}-daily_limit": "0", f"{prefix}-weight": "1"},
    )
    assert response.status_code == 400
    assert "Give the working hours of at least one day" in html(response)
    assert Member.objects.get(pk=rep.pk).capacity == 0


def test_sales_cannot_change_routing_on_the_settings_page(team):
    rep = team.members["sales"]
    prefix = f"routing-{rep.pk}"
    response = browser(team, "sales").post(
        f"/settings/members/{rep.pk}/routing/",
        {
            f"{prefix}-capacity": "99",
            f"{prefix}-daily_limit": "0",
            f"{prefix}-weight": "1",
            f"{prefix}-always": "on",
        },
    )
    assert response.status_code == 403
    assert Member.objects.get(pk=rep.pk).capacity == 0


def test_a_stage_can_pause_the_sla(team):
    client = browser(team, "admin")
    response = client.post(
        "/settings/stages/k2/",
        {
            "stage-k2-name_vi": "K2 – Đang cân nhắc",
            "stage-k2-name_en": "K2 – Thinking it over",
            "stage-k2-category": "qualified",
            "stage-k2-pauses_sla": "on",
        },
    )
    assert response.status_code == 302
    assert Stage.objects.get(workspace=team.workspace, key="k2").pauses_sla
    assert "Pauses the SLA" in html(client.get("/settings/"))


@pytest.mark.parametrize("role", ["sales", "manager"])
def test_the_away_switch_on_every_page(team, role):
    client = browser(team, role)
    page = html(client.get("/leads/"))
    assert 'action="/me/away/"' in page and "Available" in page
    response = client.post("/me/away/", {"away": "1", "next": "/leads/?stage=new"})
    assert response.status_code == 302 and response.url == "/leads/?stage=new"
    assert Member.objects.get(pk=team.members[role].pk).away
    assert "Away" in html(client.get("/leads/"))
    back = client.post("/me/away/", {"away": "0", "next": "https://evil.example/"})
    assert back.url == "/"
    assert not Member.objects.get(pk=team.members[role].pk).away


def test_marketers_have_no_away_switch(team):
    assert 'action="/me/away/"' not in html(browser(team, "marketer").get("/leads/"))
    assert browser(team, "marketer").post("/me/away/", {"away": "1"}).status_code == 403


def test_the_pages_speak_vietnamese_by_default(team):
    client = team.browser_client("admin")
    assert "Quy tắc giao lead" in html(client.get("/settings/routing/"))
    assert "Chính sách SLA" in html(client.get("/settings/sla/"))
