"""/: today's and this week's leads, open ones, the ones not contacted yet, notifications."""

from datetime import timedelta

from leadloop.activities.services import activity_log
from leadloop.core import clock
from leadloop.notifications.models import Notification
from tests.web.leads import browser, capture


def counts(response) -> dict:
    return {key: row["count"] for key, row in response.context["counts"].items()}


def test_counts_for_a_manager_and_a_rep(team):
    mine = capture(team, owner="sales")
    capture(team, owner="sales2")
    with clock.travel(timedelta(days=-8)):
        capture(team, owner="sales")
    activity_log(lead=mine, actor=team.actors["sales"], kind="call")
    assert counts(team.browser_client("manager").get("/")) == {
        "today": 2,
        "week": 2,
        "open": 3,
        "not_contacted": 2,
    }
    assert counts(team.browser_client("sales").get("/")) == {
        "today": 1,
        "week": 1,
        "open": 2,
        "not_contacted": 1,
    }


def test_each_count_links_to_its_leads(team):
    capture(team, owner="sales", full_name="Chưa gọi")
    client = team.browser_client("sales")
    row = client.get("/").context["counts"]["not_contacted"]
    url = row["filter"].page_url()
    assert url == "/leads/?open=true&contacted=false&test=false"
    assert url.replace("&", "&amp;") in client.get("/").content.decode()
    listed = client.get(url).context["page"].object_list
    assert [lead.contact.full_name for lead in listed] == ["Chưa gọi"]


def test_unread_notifications_link_to_their_lead_and_can_be_marked_read(team):
    lead = capture(team, owner="sales", full_name="Khách Mới")
    client = browser(team, "sales")
    html = client.get("/").content.decode()
    assert f'href="/leads/{lead.pk}/"' in html
    assert 'data-unread="1"' in html
    assert client.post("/notifications/read/").url == "/"
    assert not Notification.objects.filter(
        member=team.members["sales"], read_at__isnull=True
    ).exists()
    assert 'data-unread="0"' in client.get("/").content.decode()


def test_more_unread_notifications_than_shown_are_one_click_away(team):
    for n in range(12):
        capture(team, owner="sales", full_name=f"Khách {n}")
    client = browser(team, "sales")
    page = client.get("/")
    assert len(page.context["notifications"]) == 10
    assert "2 more unread notifications" in page.content.decode()
    everything = client.get("/", {"notifications": "all"})
    assert len(everything.context["notifications"]) == 12
    assert 'id="all-notifications"' not in everything.content.decode()


def test_marking_read_leaves_what_arrived_after_the_page_was_shown(team):
    capture(team, owner="sales", full_name="Đã thấy")
    client = browser(team, "sales")
    shown = client.get("/").context["newest_shown"]
    later = capture(team, owner="sales", full_name="Đến sau")
    client.post("/notifications/read/", {"up_to": str(shown)})
    unread = Notification.objects.filter(member=team.members["sales"], read_at__isnull=True)
    assert [note.lead_id for note in unread] == [later.pk]


def test_a_summary_that_counted_more_since_the_page_stays_unread(team):
    """The SLA worker counts later alerts into an unread summary, which keeps its id."""
    sales = team.members["sales"]
    summary = Notification.objects.create(
        workspace=team.workspace, member=sales, kind="sla_breach", message="4", count=4,
        created_at=clock.now(),
    )  # fmt: skip
    client = browser(team, "sales")
    page = client.get("/")
    assert f'name="seen" value="{summary.pk}:4"' in page.content.decode()
    Notification.objects.filter(pk=summary.pk).update(count=6)  # two more misses meanwhile
    client.post(
        "/notifications/read/",
        {"up_to": str(page.context["newest_shown"]), "seen": [f"{summary.pk}:4", "x:y"]},
    )
    summary.refresh_from_db()
    assert summary.read_at is None
    client.post("/notifications/read/", {"up_to": str(summary.pk), "seen": f"{summary.pk}:6"})
    summary.refresh_from_db()
    assert summary.read_at is not None


def test_the_dashboard_queries_are_bounded(team, django_assert_max_num_queries):
    for _n in range(15):
        capture(team, owner="sales")
    client = team.browser_client("sales")
    client.get("/")  # the language the member reads in is noted once, on a first page
    with django_assert_max_num_queries(10):
        client.get("/")
