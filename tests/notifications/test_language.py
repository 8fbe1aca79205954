"""What is written for a member (notifications, their toasts, e-mails) is in the language they
read LeadLoop in: the one they chose, else the one their pages were last shown in, else the
workspace's."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.core.models import Member
from leadloop.core.services import member_update
from leadloop.notifications.models import Notification
from tests.web.leads import browser, capture


def newest_note(member) -> str:
    return Notification.objects.filter(member=member).latest("id").message


def test_a_member_of_the_browser_s_language_is_written_to_as_their_pages_read(team):
    sales = team.members["sales"]
    assert sales.language == ""  # the browser's
    capture(team, owner="sales", full_name="Nguyễn Văn An")
    assert newest_note(sales) == "Bạn có lead mới: Nguyễn Văn An"  # never seen: the workspace's
    assert "Log out" in browser(team, "sales", "en-US,en;q=0.9").get("/").content.decode()
    assert Member.objects.get(pk=sales.pk).reading_language == "en"
    moved = capture(team, owner="sales", full_name="Trần Thị Bình")  # sales2's, given to sales
    assert (
        newest_note(sales)
        == f"Lead #{moved.pk} Trần Thị Bình is yours now, from Sales Hai (by hand)"
    )
    browser(team, "sales", "en").get("/?lang=vi")  # the switch, back to Vietnamese
    capture(team, owner="sales", full_name="Lê Văn Cường")
    assert newest_note(sales) == "Bạn có lead mới: Lê Văn Cường"


def test_a_member_s_own_choice_wins_over_the_pages_they_read(team):
    sales = member_update(member=team.members["sales"], actor=team.actors["admin"], language="vi")
    browser(team, "sales", "en").get("/?lang=en")
    capture(team, owner="sales", full_name="Phạm Minh Đức")
    assert newest_note(sales) == "Bạn có lead mới: Phạm Minh Đức"


def test_reading_pages_in_one_language_writes_nothing_each_time(team):
    client = browser(team, "sales", "en")
    client.get("/")  # noted once
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
