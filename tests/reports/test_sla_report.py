"""The SLA report (/reports/sla), the breach log and the obligations on the lead detail.

The data is made as the product makes it: captures, calls and assignments at fixed local times.
Every number's drill-down must list exactly the leads of the counted obligations."""

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.activities.services import activity_log
from leadloop.core.services import member_update, team_create
from leadloop.pipeline.models import Lead
from leadloop.reports.sla import breach_list, sla_report
from leadloop.routing.models import Timer
from leadloop.routing.services import lead_assign, member_routing_update
from leadloop.routing.sla import timers_fire_due
from tests.core.support import assert_error, at, capture, local, phone
from tests.reports.test_reports import lead_ids

D0, D1, D2, D3 = (date(2026, 3, day) for day in (9, 10, 11, 12))
NOW = local(D3, 12, 0)
RANGE = {"from": str(D1), "to": str(D3)}
TAGS = ["an", "binh", "cuong", "dung", "em", "test", "early", "phuong"]


def _lead(team, tag: str, owner: str, when: datetime, **fields) -> Lead:
    with at(when):
        lead = capture(team, full_name=tag, phone=phone(TAGS.index(tag)), **fields).lead
        if lead.owner_id != team.members[owner].id:
            lead_assign(lead=lead, actor=team.actors["admin"], owner_id=team.members[owner].id)
    return Lead.objects.get(pk=lead.pk)


def _call(team, lead: Lead, role: str, when: datetime, outcome: str) -> None:
    with at(when):
        activity_log(
            lead=Lead.objects.get(pk=lead.pk), actor=team.actors[role], kind="call", outcome=outcome
        )


def make_dataset(team) -> dict[str, Lead]:
    """Sales Một (team Sales) and Sales Hai (team Telesales); due times in local time:

    an     Một  first contact D1 09:15, met 09:05
    binh   Một  first contact D1 09:15, met 09:40 (25 min late); attempt 2 due 11:40, met 11:50
                (10 min late); attempt 3 due D2 00:00 (next morning), never made
    cuong  Hai  first contact D1 23:45, met 23:40 (D1 locally, D1 in UTC too)
    dung   Hai  first contact D2 10:15, never made
    em     Hai  first contact due 10 minutes after NOW: pending
    phuong      assignment due D2 14:05, assigned to Một 14:20 (15 min late); his first contact
                due 14:35, met 14:30
    test        a provider's test lead, first contact never made (not counted)
    early  Một  first contact due D0, never made (before the range)
    """
    team_create(
        workspace=team.workspace, actor=team.actors["admin"], name="Telesales", kind="sales"
    )
    member_update(member=team.members["sales2"], actor=team.actors["admin"], team="Telesales")
    made = {
        "an": _lead(team, "an", "sales", local(D1, 9, 0)),
        "binh": _lead(team, "binh", "sales", local(D1, 9, 0)),
        "cuong": _lead(team, "cuong", "sales2", local(D1, 23, 30)),
        "dung": _lead(team, "dung", "sales2", local(D2, 10, 0)),
        "em": _lead(team, "em", "sales2", NOW - timedelta(minutes=5)),
        "test": _lead(team, "test", "sales", local(D1, 12, 0), is_test=True),
        "early": _lead(team, "early", "sales", local(D0, 9, 0)),
    }
    _call(team, made["an"], "sales", local(D1, 9, 5), "consulted")
    _call(team, made["binh"], "sales", local(D1, 9, 40), "no_answer")
    _call(team, made["binh"], "sales", local(D1, 11, 50), "no_answer")
    _call(team, made["cuong"], "sales2", local(D1, 23, 40), "consulted")
    admin = team.actors["admin"]
    for role in ("sales", "sales2"):  # nobody can take a lead: it waits to be assigned
        member_routing_update(member=team.members[role], actor=admin, away=True)
    with at(local(D2, 14, 0)):
        made["phuong"] = capture(team, full_name="phuong", phone=phone(TAGS.index("phuong"))).lead
    for role in ("sales", "sales2"):
        member_routing_update(member=team.members[role], actor=admin, away=False)
    with at(local(D2, 14, 20)):
        lead_assign(lead=made["phuong"], actor=admin, owner_id=team.members["sales"].id)
    _call(team, made["phuong"], "sales", local(D2, 14, 30), "consulted")
    return made


@pytest.fixture
def dataset(team):
    return make_dataset(team)


def report(api, **params) -> dict:
    with at(NOW):
        answer = api.get("/reports/sla", **{**RANGE, **params})
    assert answer.status_code == 200, answer.content
    return answer.json()


def rows_by_key(api, **params) -> dict:
    return {row["key"]: row for row in report(api, **params)["rows"]}


def listed(api, url: str) -> tuple[int, set[int]]:
    with at(NOW):
        return lead_ids(api, url)


def ids(made, *tags) -> set[int]:
    return {made[tag].pk for tag in tags}


def test_the_obligations_are_as_the_engine_made_them(team, dataset):
    """The fixture's story, checked on the rows themselves (the rest of the file relies on it)."""
    timers = Timer.objects.filter(kind__in=Timer.OBLIGATIONS).order_by("due_at", "id")
    got = {(t.lead.contact.full_name, t.kind, t.attempt): t for t in timers}
    assert set(got) == {
        ("an", "first_contact", 1),
        ("binh", "first_contact", 1),
        ("binh", "attempt", 2),
        ("binh", "attempt", 3),
        ("cuong", "first_contact", 1),
        ("dung", "first_contact", 1),
        ("em", "first_contact", 1),
        ("phuong", "assign", 0),
        ("phuong", "first_contact", 1),
        ("test", "first_contact", 1),
        ("early", "first_contact", 1),
    }
    assert got[("binh", "attempt", 3)].due_at == local(D2, 0, 0)
    assert got[("phuong", "assign", 0)].member is None
    assert got[("phuong", "first_contact", 1)].member == team.members["sales"]


def test_per_rep_met_on_time_late_and_never_done_pending_not_counted(team, dataset):
    rows = rows_by_key(team.api("manager"))
    mot, hai = str(team.members["sales"].id), str(team.members["sales2"].id)
    assert list(rows) == [hai, mot, "none", ""]  # by name (Hai < Một), nobody's, the total
    one = rows[mot]
    assert (one["name"], one["due"], one["met"], one["breached"]) == ("Sales Một", 5, 2, 3)
    assert one["compliance"] == 0.4
    assert (one["median_late_s"], one["max_late_s"]) == (1500, 36 * 3600)  # 10 min, 25 min, 36 h
    assert one["lead_counts"] == {"due": 3, "met": 2, "breached": 1}
    first, attempt = one["kinds"]["first_contact"], one["kinds"]["attempt"]
    assert (first["due"], first["met"], first["breached"], first["max_late_s"]) == (3, 2, 1, 1500)
    assert (attempt["due"], attempt["breached"], attempt["compliance"]) == (2, 2, 0.0)
    assert attempt["median_late_s"] == (600 + 36 * 3600) // 2  # the two middle ones' mean
    assert one["kinds"]["assign"]["due"] == 0 and one["kinds"]["assign"]["compliance"] is None
    two = rows[hai]  # em's first contact is not due yet: not counted
    assert (two["due"], two["met"], two["breached"], two["compliance"]) == (2, 1, 1, 0.5)
    assert two["max_late_s"] == pytest.approx(25 * 3600 + 45 * 60, abs=5)  # dung, still open
    nobody = rows["none"]
    assert (nobody["name"], nobody["due"], nobody["breached"], nobody["max_late_s"]) == (
        "",
        1,
        1,
        900,
    )
    assert nobody["kinds"]["assign"]["breached"] == 1
    total = rows[""]
    assert (total["due"], total["met"], total["breached"], total["compliance"]) == (8, 3, 5, 0.375)
    assert (total["median_late_s"], total["max_late_s"]) == (1500, 36 * 3600)
    assert total["lead_counts"] == {"due": 5, "met": 3, "breached": 3}


def test_firing_the_timers_changes_no_number(team, dataset):
    api = team.api("manager")
    before = report(api)["rows"]
    with at(NOW):
        timers_fire_due()
    assert Timer.objects.filter(fired_at__isnull=False).exists()
    after = report(api)["rows"]
    for old, new in zip(before, after, strict=True):
        assert (old["key"], old["due"], old["breached"]) == (
            new["key"],
            new["due"],
            new["breached"],
        )


def test_an_obligation_counts_once_due_and_until_then_is_pending(team, dataset):
    api = team.api("manager")
    hai = str(team.members["sales2"].id)
    with at(NOW + timedelta(minutes=30)):  # em's first contact (due NOW + 10 min) is now late
        rows = {r["key"]: r for r in api.get("/reports/sla", **RANGE).json()["rows"]}
    assert (rows[hai]["due"], rows[hai]["breached"]) == (3, 2)
    _call(team, dataset["em"], "sales2", NOW + timedelta(minutes=40), "consulted")
    with at(NOW + timedelta(hours=1)):
        rows = {r["key"]: r for r in api.get("/reports/sla", **RANGE).json()["rows"]}
    assert (rows[hai]["due"], rows[hai]["met"], rows[hai]["breached"]) == (3, 1, 2)  # em: late
    assert rows[hai]["max_late_s"] == pytest.approx(26 * 3600 + 45 * 60, abs=5)  # dung, open


def test_per_team(team, dataset):
    rows = report(team.api("admin"), by="team")["rows"]
    assert [(r["name"], r["due"], r["met"], r["breached"]) for r in rows] == [
        ("Sales", 5, 2, 3),
        ("Telesales", 2, 1, 1),
        ("", 1, 0, 1),  # the assignment nobody owes has no team
        ("", 8, 3, 5),
    ]
    assert rows[2]["key"] == "none" and rows[3]["key"] == ""


def test_per_day_in_the_workspace_time_zone(team, dataset):
    """Cường's first contact (D1 23:45) and Bình's third attempt (D2 00:00) fall on the same UTC
    day, on two local days."""
    rows = report(team.api("admin"), by="day")["rows"]
    assert [(r["key"], r["due"], r["met"], r["breached"]) for r in rows] == [
        (str(D1), 4, 2, 2),
        (str(D2), 4, 1, 3),
        ("", 8, 3, 5),
    ]
    api = team.api("admin")
    assert listed(api, rows[0]["met_url"])[1] == ids(dataset, "an", "cuong")
    assert listed(api, rows[1]["breached_url"])[1] == ids(dataset, "binh", "dung", "phuong")


URLS = (("due", "leads_url"), ("met", "met_url"), ("breached", "breached_url"))


def _expected_leads(date_from: date, date_to: date) -> dict:
    """The definition, again in Python, from the Timer rows: state -> kind -> lead ids."""
    out = {s: {k: set() for k in ("", *Timer.OBLIGATIONS)} for s in ("due", "met", "breached")}
    for timer in Timer.objects.filter(kind__in=Timer.OBLIGATIONS).select_related("lead"):
        day = timer.due_at.astimezone(NOW.tzinfo).date()
        if timer.lead.is_test or not date_from <= day <= date_to:
            continue
        done, due = timer.done_at, timer.due_at
        met = done is not None and done <= due
        breached = (done is not None and done > due) or (done is None and due < NOW)
        if not (met or breached):
            continue
        for kind in ("", timer.kind):
            out["due"][kind].add(timer.lead_id)
            out["met" if met else "breached"][kind].add(timer.lead_id)
    return out


@pytest.mark.parametrize("by", ["rep", "team", "day"])
def test_every_number_lists_exactly_the_leads_of_its_obligations(team, dataset, by):
    api = team.api("admin")
    rows = report(api, by=by)["rows"]
    expected = _expected_leads(D1, D3)
    seen_per_state: dict = {"due": set(), "met": set(), "breached": set()}
    for row in rows:
        for kind, block in [("", row), *row["kinds"].items()]:
            for state, url_key in URLS:
                total, found = listed(api, block[url_key])
                assert total == len(found) == block["lead_counts"][state], (row["key"], kind, state)
                if row["key"] == "":
                    assert found == expected[state][kind], (kind, state)
                elif not kind:
                    seen_per_state[state] |= found
    for state in seen_per_state:  # the groups' leads together are the total's
        assert seen_per_state[state] == expected[state][""], state
    assert expected["breached"][""] == ids(dataset, "binh", "dung", "phuong")


def test_the_lead_list_and_api_share_the_filters(team, dataset):
    api = team.api("manager")
    mot = team.members["sales"].id
    with at(NOW):
        late_attempts = api.get(
            "/leads", sla="breached", sla_kind="attempt", sla_member=mot, sla_from=D1, sla_to=D3
        ).json()
        nobody = api.get("/leads", sla="breached", sla_member="none").json()
        everything_due = api.get("/leads", sla="due").json()  # any day, test leads included
    assert {i["id"] for i in late_attempts["items"]} == ids(dataset, "binh")
    assert {i["id"] for i in nobody["items"]} == ids(dataset, "phuong")
    assert {i["id"] for i in everything_due["items"]} == ids(
        dataset, "an", "binh", "cuong", "dung", "phuong", "test", "early"
    )


def test_a_sales_rep_sees_only_their_own_obligations(team, dataset):
    api = team.api("sales")
    rows = report(api)["rows"]
    mot = str(team.members["sales"].id)
    assert [r["key"] for r in rows] == [mot, ""]
    assert (rows[1]["due"], rows[1]["breached"]) == (5, 3)
    assert "sla_member=" + mot in rows[1]["leads_url"]
    assert listed(api, rows[1]["leads_url"]) == (3, ids(dataset, "an", "binh", "phuong"))
    days = report(api, by="day")["rows"]
    assert sum(r["due"] for r in days[:-1]) == days[-1]["due"] == 5
    with at(NOW):
        mine = breach_list(workspace=team.workspace, fetched_by=team.actors["sales"])
        theirs = breach_list(
            workspace=team.workspace,
            fetched_by=team.actors["sales"],
            member=team.members["sales2"],
        )
    assert {t.lead_id for t in mine} == ids(dataset, "binh", "early")  # no range: all
    assert not theirs.exists()


def test_a_marketer_reads_every_row(team, dataset):
    rows = report(team.api("marketer"))["rows"]
    assert len(rows) == 4 and rows[-1]["due"] == 8


def test_another_workspace_sees_nothing_and_its_ids_are_404(team, other_team, dataset):
    theirs = other_team.api("admin")
    assert [(r["key"], r["due"]) for r in report(theirs)["rows"]] == [("", 0)]
    binh = dataset["binh"].pk
    assert_error(theirs.get(f"/leads/{binh}"), 404)
    assert_error(theirs.get("/reports/sla/breaches", lead=binh), 404)
    assert_error(theirs.get("/reports/sla/breaches", member=team.members["sales"].id), 404)
    with at(NOW):
        assert theirs.get("/leads", sla="breached").json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/reports/sla", {"by": "week"}),
        ("/reports/sla", {"from": "2026-13-01"}),
        ("/reports/sla", {"from": "2026-03-02", "to": "2026-03-01"}),
        ("/reports/sla", {"from": "2020-01-01", "to": "2026-01-01"}),
        ("/reports/sla", {"from": "9999-12-01", "to": "9999-12-31"}),
        ("/reports/sla/breaches", {"from": "0001-01-01", "to": "0001-01-02"}),
        ("/reports/sla/breaches", {"member": "abc"}),
        ("/reports/sla/breaches", {"from": "2026-03-02", "to": "2026-03-01"}),
        ("/leads", {"sla": "late"}),
        ("/leads", {"sla_kind": "idle"}),
        ("/leads", {"sla_from": "yesterday"}),
    ],
)
def test_bad_input_is_a_4xx_json_error(team, path, params):
    assert_error(team.api("admin").get(path, **params), 422)


def test_the_breach_log(team, dataset):
    api = team.api("manager")
    with at(NOW):
        body = api.get("/reports/sla/breaches", **RANGE).json()
        of_binh = api.get("/reports/sla/breaches", lead=dataset["binh"].pk).json()
        of_mot = api.get("/reports/sla/breaches", member=team.members["sales"].id).json()
    assert body["total"] == 5
    order = [(i["lead_id"], i["kind"], i["attempt"]) for i in body["items"]]
    phuong, dung, binh = (dataset[t].pk for t in ("phuong", "dung", "binh"))
    assert order == [  # latest due first
        (phuong, "assign", 0),
        (dung, "first_contact", 1),
        (binh, "attempt", 3),
        (binh, "attempt", 2),
        (binh, "first_contact", 1),
    ]
    first = body["items"][0]
    assert first["state"] == "breached" and first["late_s"] == 900 and first["member"] is None
    assert first["due_at"].startswith("2026-03-11T14:05") and first["due_at"].endswith("+07:00")
    assert first["done_at"].startswith("2026-03-11T14:20") and first["done_at"].endswith("+07:00")
    assert [i["late_s"] for i in of_binh["items"]] == [36 * 3600, 600, 1500]
    assert of_mot["total"] == 4  # binh's three, and the early lead's (no range)


def test_the_lead_detail_lists_its_obligations(team, dataset):
    api = team.api("sales")
    with at(NOW):
        binh = api.get(f"/leads/{dataset['binh'].pk}").json()
        phuong = api.get(f"/leads/{dataset['phuong'].pk}").json()
        em = team.api("sales2").get(f"/leads/{dataset['em'].pk}").json()
    assert {"contact", "touches", "activities", "stage_history"} <= set(binh)  # still there
    assert [(o["kind"], o["attempt"], o["state"], o["late_s"]) for o in binh["sla"]] == [
        ("first_contact", 1, "breached", 1500),
        ("attempt", 2, "breached", 600),
        ("attempt", 3, "breached", 36 * 3600),
    ]
    assert binh["sla"][0]["due_at"].startswith("2026-03-10T09:15")
    assert binh["sla"][2]["done_at"] is None
    assert binh["sla"][0]["member"]["id"] == team.members["sales"].id
    assert [(o["kind"], o["state"]) for o in phuong["sla"]] == [
        ("assign", "breached"),
        ("first_contact", "met"),
    ]
    assert [(o["state"], o["late_s"], o["done_at"]) for o in em["sla"]] == [("pending", 0, None)]


def _queries(api, path: str, **params) -> int:
    with CaptureQueriesContext(connection) as queries, at(NOW):
        assert api.get(path, **params).status_code == 200
    return len(queries)


def test_one_query_per_report_whatever_the_data(team, dataset):
    api = team.api("manager")
    with at(NOW):
        api.get("/stages")  # first use of the token records last_used_at
    one_query = _queries(api, "/stages")  # the token's look-up and one query
    for by in ("rep", "team", "day"):
        assert _queries(api, "/reports/sla", by=by, **RANGE) == one_query, by
    assert _queries(api, "/reports/sla", **{"from": str(D1), "to": str(D1)}) == one_query
    assert _queries(api, "/reports/sla/breaches", **RANGE) == one_query + 1  # count and page
    with at(NOW):
        assert (
            sla_report(
                workspace=team.workspace,
                fetched_by=team.actors["admin"],
                date_from=D0,
                date_to=D3,
            )[-1]["due"]
            == 9
        )  # the early lead's breach too
