"""Reports: /reports/stages (by day, week, month) and /reports/funnel.

The key property: every report row's `leads_url` lists exactly the `count` leads it counts."""

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.core.models import Workspace
from leadloop.pipeline.models import Lead, Stage
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.services import lead_assign
from tests.core.support import HCM, assert_error, at, capture, local, phone

FROM, TO = date(2026, 1, 28), date(2026, 3, 12)  # a Wednesday to a Thursday
PATHS = [
    [],
    ["k3"],
    ["k3", "k2"],
    ["k3", "k5", "k1"],
    ["k4-1"],
    ["k2", "k4-2"],
    ["k3", "k2", "k5"],
    ["k1"],
    ["k3", "k4-2"],
    ["k2", "k1", "k3"],
]
EXITS = {"k4-1", "k4-2"}
HOURS = [(0, 0), (0, 20), (6, 59), (7, 0), (12, 0), (16, 59), (17, 0), (23, 30), (23, 59)]


def lead_ids(api, url: str) -> tuple[int, set[int]]:
    """Follow a leads_url (all pages) and return (total, ids)."""
    parts = urlsplit(url)
    assert parts.path == "/api/v1/leads", url
    params = dict(parse_qsl(parts.query))
    total, found, page = None, set(), 1
    while True:
        response = api.client.get(parts.path, {**params, "page": page, "page_size": 200})
        assert response.status_code == 200, response.content
        body = response.json()
        total = body["total"]
        found |= {item["id"] for item in body["items"]}
        if page * 200 >= total:
            return total, found
        page += 1


@pytest.fixture
def dataset(team):
    """~70 leads over two and a half months around the range, at awkward local times."""
    rng = random.Random(20260128)
    admin = team.actors["admin"]
    positions = {s.key: s.position for s in Stage.objects.filter(workspace=team.workspace)}
    facts = []
    start = FROM - timedelta(days=9)
    for i in range(70):
        day = start + timedelta(days=rng.randrange((TO - start).days + 10))
        hour, minute = rng.choice(HOURS)
        path = rng.choice(PATHS)
        source = rng.choice(["facebook", "google", "website"])
        with at(local(day, hour, minute)):
            lead = capture(
                team,
                full_name=f"Khách {i}",
                phone=phone(i),
                source=source,
                campaign=rng.choice(["Tết 2027", "Hè 2026", ""]),
            ).lead
        owner = rng.choice(["sales", "sales2"])
        lead_assign(lead=lead, actor=admin, owner_id=team.members[owner].id)
        for key in path:
            lead_change_stage(lead=lead, actor=admin, stage_key=key)
        progress = [positions[k] for k in ["new", *path] if k not in EXITS]
        facts.append(
            {
                "id": lead.pk,
                "day": day,
                "stage": path[-1] if path else "new",
                "furthest": max(progress),
                "source": source,
                "owner": owner,
            }
        )
    return facts


def expected_periods(facts, by: str, date_from: date, date_to: date) -> dict:
    buckets = defaultdict(set)
    for fact in facts:
        day = fact["day"]
        if not date_from <= day <= date_to:
            continue
        if by == "day":
            start = day
        elif by == "week":
            start = day - timedelta(days=day.weekday())
        else:
            start = day.replace(day=1)
        buckets[(str(max(start, date_from)), fact["stage"])].add(fact["id"])
    return buckets


@pytest.mark.parametrize("by", ["day", "week", "month"])
def test_stage_counts_by_period_and_every_leads_url_lists_exactly_them(team, dataset, by):
    api = team.api("manager")
    response = api.get("/reports/stages", **{"from": str(FROM), "to": str(TO), "by": by})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"], body["by"]) == (str(FROM), str(TO), by)
    expected = expected_periods(dataset, by, FROM, TO)
    got = {(row["period"], row["stage"]): row["count"] for row in body["rows"]}
    assert got == {key: len(ids) for key, ids in expected.items()}
    assert sum(got.values()) == sum(1 for f in dataset if FROM <= f["day"] <= TO)
    for row in body["rows"]:
        assert (
            FROM <= date.fromisoformat(row["period"]) <= date.fromisoformat(row["period_end"]) <= TO
        )
        total, found = lead_ids(api, row["leads_url"])
        assert total == row["count"], row
        assert found == expected[(row["period"], row["stage"])], row


def test_week_rows_are_clipped_to_the_range(team, dataset):
    rows = (
        team.api("admin")
        .get("/reports/stages", **{"from": str(FROM), "to": str(TO), "by": "week"})
        .json()["rows"]
    )
    periods = sorted({(r["period"], r["period_end"]) for r in rows})
    assert periods[0] == ("2026-01-28", "2026-02-01")  # Wednesday .. Sunday
    assert periods[-1] == ("2026-03-09", "2026-03-12")  # Monday .. Thursday
    for start, end in periods[1:-1]:
        assert date.fromisoformat(start).weekday() == 0
        assert date.fromisoformat(end) - date.fromisoformat(start) == timedelta(days=6)


def test_month_rows_are_clipped_to_the_range(team, dataset):
    rows = (
        team.api("admin")
        .get("/reports/stages", **{"from": str(FROM), "to": str(TO), "by": "month"})
        .json()["rows"]
    )
    assert sorted({(r["period"], r["period_end"]) for r in rows}) == [
        ("2026-01-28", "2026-01-31"),
        ("2026-02-01", "2026-02-28"),
        ("2026-03-01", "2026-03-12"),
    ]


def test_funnel_counts_leads_that_reached_each_step_and_lists_them(team, dataset):
    api = team.api("admin")
    body = api.get("/reports/funnel", **{"from": str(FROM), "to": str(TO)}).json()
    stages = {s.key: s for s in Stage.objects.filter(workspace=team.workspace)}
    steps = [s.key for s in sorted(stages.values(), key=lambda s: s.position) if s.key not in EXITS]
    assert [row["stage"] for row in body["rows"]] == steps
    in_range = [f for f in dataset if FROM <= f["day"] <= TO]
    previous = None
    for row in body["rows"]:
        reached = {f["id"] for f in in_range if f["furthest"] >= stages[row["stage"]].position}
        assert row["count"] == len(reached), row
        if previous:
            assert row["drop_off"] == pytest.approx(1 - len(reached) / previous, abs=1e-4)
        else:
            assert row["drop_off"] == 0
        previous = len(reached)
        total, found = lead_ids(api, row["leads_url"])
        assert (total, found) == (row["count"], reached), row
    assert body["rows"][0]["count"] == len(in_range)


def test_funnel_filtered_by_source_and_campaign(team, dataset):
    api = team.api("admin")
    body = api.get(
        "/reports/funnel", **{"from": str(FROM), "to": str(TO), "source": "facebook"}
    ).json()
    in_range = {f["id"] for f in dataset if FROM <= f["day"] <= TO and f["source"] == "facebook"}
    assert body["rows"][0]["count"] == len(in_range)
    for row in body["rows"]:
        assert "source=facebook" in row["leads_url"]
        total, found = lead_ids(api, row["leads_url"])
        assert total == row["count"] and found <= in_range
    campaign = api.get(
        "/reports/funnel", **{"from": str(FROM), "to": str(TO), "campaign": "tet-2027"}
    ).json()
    expected = Lead.objects.filter(
        campaign__key="tet-2027", id__in=[f["id"] for f in dataset if FROM <= f["day"] <= TO]
    ).count()
    assert campaign["rows"][0]["count"] == expected
    for row in campaign["rows"]:
        assert lead_ids(api, row["leads_url"])[0] == row["count"]


def test_a_sales_reps_reports_count_and_list_only_their_leads(team, dataset):
    api = team.api("sales")
    mine = {f["id"] for f in dataset if f["owner"] == "sales" and FROM <= f["day"] <= TO}
    funnel = api.get("/reports/funnel", **{"from": str(FROM), "to": str(TO)}).json()["rows"]
    assert funnel[0]["count"] == len(mine)
    assert lead_ids(api, funnel[0]["leads_url"]) == (len(mine), mine)
    rows = api.get("/reports/stages", **{"from": str(FROM), "to": str(TO), "by": "week"}).json()[
        "rows"
    ]
    assert sum(r["count"] for r in rows) == len(mine)
    for row in rows:
        total, found = lead_ids(api, row["leads_url"])
        assert total == row["count"] and found <= mine


def test_day_boundaries_follow_the_workspace_time_zone(team):
    late = local(date(2026, 3, 31), 23, 30)  # 16:30 UTC: still March 31 in Hà Nội
    early = local(date(2026, 4, 1), 0, 30)  # 17:30 UTC on March 31: April 1 in Hà Nội
    for i, moment in enumerate((late, early)):
        with at(moment):
            capture(team, phone=phone(i))
    api = team.api("admin")
    by_day = api.get(
        "/reports/stages", **{"from": "2026-03-31", "to": "2026-04-01", "by": "day"}
    ).json()["rows"]
    assert [(r["period"], r["count"]) for r in by_day] == [("2026-03-31", 1), ("2026-04-01", 1)]
    by_month = api.get(
        "/reports/stages", **{"from": "2026-03-15", "to": "2026-04-10", "by": "month"}
    ).json()["rows"]
    assert [(r["period"], r["period_end"], r["count"]) for r in by_month] == [
        ("2026-03-15", "2026-03-31", 1),
        ("2026-04-01", "2026-04-10", 1),
    ]
    for row in by_day + by_month:
        assert lead_ids(api, row["leads_url"])[0] == 1
    only_april = api.get("/reports/funnel", **{"from": "2026-04-01", "to": "2026-04-01"})
    assert only_april.json()["rows"][0]["count"] == 1


def test_another_workspace_time_zone_decides_the_day(team):
    Workspace.objects.filter(pk=team.workspace.pk).update(time_zone="America/Sao_Paulo")
    sao_paulo = ZoneInfo("America/Sao_Paulo")  # UTC-3: 23:30 there is 09:30 next day here
    with at(datetime(2026, 3, 10, 23, 30, tzinfo=sao_paulo)):
        answer = team.api("admin").post("/leads", {"phone": phone(1)}).json()
    assert answer["created_at"].startswith("2026-03-10T23:30")
    assert answer["created_at"].endswith("-03:00")
    api = team.api("admin")
    rows = api.get(
        "/reports/stages", **{"from": "2026-03-10", "to": "2026-03-11", "by": "day"}
    ).json()["rows"]
    assert [(r["period"], r["count"]) for r in rows] == [("2026-03-10", 1)]
    assert lead_ids(api, rows[0]["leads_url"]) == (1, {answer["id"]})
    listed = api.get("/leads", created_from="2026-03-11", created_to="2026-03-11").json()
    assert listed["total"] == 0


def test_a_week_across_a_year_and_a_range_of_one_day(team):
    with at(local(date(2026, 12, 31), 23, 0)):
        capture(team, phone=phone(1))
    with at(local(date(2027, 1, 1), 1, 0)):
        capture(team, phone=phone(2))
    api = team.api("admin")
    rows = api.get(
        "/reports/stages", **{"from": "2026-12-28", "to": "2027-01-03", "by": "week"}
    ).json()["rows"]
    assert [(r["period"], r["period_end"], r["count"]) for r in rows] == [
        ("2026-12-28", "2027-01-03", 2)
    ]
    one_day = api.get(
        "/reports/stages", **{"from": "2027-01-01", "to": "2027-01-01", "by": "month"}
    ).json()["rows"]
    assert [(r["period"], r["period_end"], r["count"]) for r in one_day] == [
        ("2027-01-01", "2027-01-01", 1)
    ]
    assert lead_ids(api, one_day[0]["leads_url"])[0] == 1


def test_default_range_is_the_last_30_days_to_today(team):
    today = local(date(2026, 8, 15), 10, 0)
    with at(today - timedelta(days=30)):
        capture(team, phone=phone(1))  # 31 days ago counting today: outside
    with at(today - timedelta(days=29)):
        capture(team, phone=phone(2))
    with at(today):
        capture(team, phone=phone(3))
        body = team.api("admin").get("/reports/stages").json()
        funnel = team.api("admin").get("/reports/funnel").json()
    assert (body["from"], body["to"], body["by"]) == ("2026-07-17", "2026-08-15", "day")
    assert sum(r["count"] for r in body["rows"]) == 2
    assert funnel["rows"][0]["count"] == 2


def test_rows_carry_stage_names_and_categories(team, dataset):
    rows = (
        team.api("admin")
        .get("/reports/stages", **{"from": str(FROM), "to": str(TO), "by": "month"})
        .json()["rows"]
    )
    categories = {s.key: s.category for s in Stage.objects.filter(workspace=team.workspace)}
    for row in rows:
        assert row["category"] == categories[row["stage"]]
        assert row["stage_name"]
    funnel = (
        team.api("admin")
        .get("/reports/funnel", **{"from": str(FROM), "to": str(TO)})
        .json()["rows"]
    )
    assert all(
        set(r) >= {"stage", "stage_name", "category", "count", "drop_off", "leads_url"}
        for r in funnel
    )


def test_an_archived_stage_still_counts_and_lists(team):
    lead = capture(team, phone=phone(1)).lead
    lead_change_stage(lead=lead, actor=team.actors["admin"], stage_key="k5")
    stage = Stage.objects.get(workspace=team.workspace, key="k5")
    from leadloop.pipeline.services import stage_update

    stage_update(
        stage=stage,
        actor=team.actors["admin"],
        name_vi=stage.name_vi,
        name_en=stage.name_en,
        category=stage.category,
        archived=True,
    )
    api = team.api("admin")
    rows = api.get("/reports/stages").json()["rows"]
    assert [(r["stage"], r["count"]) for r in rows] == [("k5", 1)]
    assert lead_ids(api, rows[0]["leads_url"])[0] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"by": "year"},
        {"from": "2026-13-01"},
        {"to": "soon"},
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "0001-01-01", "to": "0001-01-31"},
        {"from": "9999-12-01", "to": "9999-12-31"},
    ],
)
def test_bad_report_parameters_are_422(team, params):
    assert_error(team.api("admin").get("/reports/stages", **params), 422)
    funnel_params = {k: v for k, v in params.items() if k != "by"}
    if funnel_params:
        assert_error(team.api("admin").get("/reports/funnel", **funnel_params), 422)


def _queries(api, path: str, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get(path, **params).status_code == 200
    return len(queries)


def test_reports_run_a_bounded_number_of_queries(team, dataset, django_assert_max_num_queries):
    api = team.api("manager")
    api.get("/stages")  # first use of the token records last_used_at
    params = {"from": str(FROM), "to": str(TO)}
    with django_assert_max_num_queries(5):
        api.get("/reports/stages", by="day", **params)
    with django_assert_max_num_queries(5):
        api.get("/reports/funnel", **params)
    # more periods (rows) do not mean more queries
    one_day = {"from": str(FROM), "to": str(FROM)}
    assert _queries(api, "/reports/stages", by="day", **params) == _queries(
        api, "/reports/stages", by="day", **one_day
    )


def test_report_dates_are_local_dates(team, dataset):
    created = Lead.objects.order_by("created_at").first().created_at
    assert created.astimezone(HCM).date() == min(f["day"] for f in dataset)
    assert Counter(f["day"] for f in dataset)  # the data set spans many days


def test_test_leads_are_left_out_of_reports_unless_asked_for(team):
    real = capture(team, phone=phone(1), source="Google").lead
    test = capture(team, phone=phone(2), source="Google", is_test=True).lead
    assert test.is_test and not real.is_test
    api = team.api("manager")
    rows = api.get("/reports/stages").json()["rows"]
    assert [(r["stage"], r["count"]) for r in rows] == [("new", 1)]
    assert lead_ids(api, rows[0]["leads_url"]) == (1, {real.id})
    funnel = api.get("/reports/funnel").json()["rows"]
    assert funnel[0]["count"] == 1
    assert lead_ids(api, funnel[0]["leads_url"]) == (1, {real.id})
    asked = api.get("/reports/stages", test="true").json()["rows"]
    assert [(r["stage"], r["count"]) for r in asked] == [("new", 1)]
    assert lead_ids(api, asked[0]["leads_url"]) == (1, {test.id})
    assert api.get("/leads").json()["total"] == 2  # the list shows both unless filtered
