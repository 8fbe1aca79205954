"""Settings → Webhook inbox, replay from the page and the CLI, Facebook reconciliation."""

import io
import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadloop.contacts import tasks as contacts_tasks
from leadloop.contacts.models import PossibleDuplicate
from leadloop.core import clock
from leadloop.core.models import AuditLog
from leadloop.intake.inbox import RETRY_DELAYS, deliveries_sweep, delivery_process, delivery_receive
from leadloop.intake.models import Delivery, FacebookForm, Touch
from leadloop.pipeline.models import Lead
from tests.core.support import capture
from tests.intake.hooks.support import SECRETS, google, leadgen, make_channels, post, zalo

pytestmark = pytest.mark.usefixtures("huey_immediate")


def failed_delivery(graph, leadgen_id=601, workspace="acme") -> Delivery:
    """A Facebook delivery that failed past its retries (the Graph API was down)."""
    graph.add(leadgen_id, name="Bùi Thị Thu", phone=f"0913{leadgen_id:06d}")
    graph.set_mode("500")
    post("facebook", leadgen((leadgen_id, 1)), workspace=workspace)
    delivery = Delivery.objects.filter(workspace__slug=workspace).latest("id")
    for _attempt in RETRY_DELAYS:
        delivery = delivery_process(delivery_id=delivery.pk)
    assert delivery.status == "failed"
    graph.set_mode("ok")
    return delivery


def cli(*args) -> str:
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command(*args, stdout=out)
    return out.getvalue()


def test_the_admin_sees_the_inbox_filters_it_and_reads_a_raw_body(team, channels, graph):
    failed = failed_delivery(graph)
    post("zalo", {"event_name": "follow", "timestamp": "1"})
    client = team.browser_client("admin")
    page = client.get("/settings/inbox/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/settings/inbox/{failed.pk}/" in html
    assert "Graph API" in html and "An unknown error occurred" in html
    only_failed = client.get("/settings/inbox/", {"status": "failed"}).content.decode()
    assert f"#{failed.pk}" in only_failed
    assert "Zalo" not in only_failed.split("<tbody>")[1]
    detail = client.get(f"/settings/inbox/{failed.pk}/").content.decode()
    assert "leadgen_id" in detail and "X-Hub-Signature-256" in detail
    assert f"/settings/inbox/{failed.pk}/replay/" in detail


def test_the_delivery_page_in_vietnamese_names_the_sender_and_times_to_the_second(
    team, channels, graph
):
    failed = failed_delivery(graph)
    client = team.browser_client("admin")
    detail = client.get(f"/settings/inbox/{failed.pk}/?lang=vi").content.decode()
    assert "<dt>Địa chỉ IP người gửi</dt><dd>127.0.0.1</dd>" in detail
    received = timezone.localtime(failed.received_at, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert f'">{received:%H:%M:%S %d/%m/%Y}</time>' in detail


def test_the_settings_page_links_to_the_inbox(team):
    assert "/settings/inbox/" in team.browser_client("admin").get("/settings/").content.decode()


def test_vietnamese_raw_bodies_show_as_text(team, channels):
    delivery_id = post("zalo", zalo(name="Trịnh Công Sơn")).json()["delivery"]
    detail = team.browser_client("admin").get(f"/settings/inbox/{delivery_id}/")
    assert "Trịnh Công Sơn" in detail.content.decode()


@pytest.mark.parametrize("role", ["manager", "marketer", "sales"])
def test_other_roles_are_refused(team, channels, graph, role):
    failed = failed_delivery(graph)
    client = team.browser_client(role)
    assert client.get("/settings/inbox/").status_code == 403
    assert client.get(f"/settings/inbox/{failed.pk}/").status_code == 403
    assert client.post(f"/settings/inbox/{failed.pk}/replay/").status_code == 403
    assert client.post("/settings/inbox/replay/").status_code == 403
    assert Delivery.objects.get().status == "failed"


def test_a_delivery_of_another_workspace_is_not_found(team, other_team, graph):
    make_channels(other_team)
    theirs = failed_delivery(graph, workspace="rival")
    client = team.browser_client("admin")
    assert client.get(f"/settings/inbox/{theirs.pk}/").status_code == 404
    assert client.post(f"/settings/inbox/{theirs.pk}/replay/").status_code == 404
    client.post("/settings/inbox/replay/")
    assert Delivery.objects.get(pk=theirs.pk).status == "failed"


def test_replaying_one_failed_delivery_from_the_page(team, channels, graph):
    failed = failed_delivery(graph)
    client = team.browser_client("admin")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"/settings/inbox/{failed.pk}/replay/")
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error) == ("done", 1, "")
    assert Lead.objects.get().external_id == "601"
    assert AuditLog.objects.filter(action="delivery.replay").count() == 1
    # a done delivery is not replayed again: a second press is told why, on the same page
    again = client.post(f"/settings/inbox/{failed.pk}/replay/", follow=True)
    assert again.redirect_chain == [(f"/settings/inbox/{failed.pk}/", 302)]
    assert "Chỉ có thể xử lý lại một lần gửi bị lỗi." in again.content.decode()
    assert Touch.objects.count() == 1


def test_a_delivery_page_hides_the_channel_secret_and_names_outcomes(team, channels):
    delivery_id = post("google", google()).json()["delivery"]
    html = team.browser_client("admin").get(f"/settings/inbox/{delivery_id}/").content.decode()
    assert SECRETS["google"]["google_key"] not in html
    assert "&quot;google_key&quot;: &quot;•••&quot;" in html


def test_a_secret_written_with_escapes_is_hidden_too(team, channels):
    channel = channels["google"]
    channel.settings = {"google_key": 'z"QX/ợ'}
    channel.save()
    body = r'{"google\u005fkey": "z\"QX\/\u1ee3", "lead_id": "1", "user_column_data": []}'
    delivery = delivery_receive(channel=channel, headers={}, body=body.encode(), remote_addr="")
    html = team.browser_client("admin").get(f"/settings/inbox/{delivery.pk}/").content.decode()
    raw = html.split('id="raw-body">')[1].split("</pre>")[0]
    assert "QX" not in raw and "&quot;•••&quot;" in raw and "lead_id" in raw


def test_replaying_all_failed_deliveries_from_the_page(team, channels, graph):
    for leadgen_id in (701, 702, 703):
        failed_delivery(graph, leadgen_id)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = team.browser_client("admin").post("/settings/inbox/replay/", follow=True)
    assert response.status_code == 200
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    assert Lead.objects.count() == 3


def test_cli_replays_the_failed_deliveries_of_every_or_one_workspace(team, other_team, graph):
    make_channels(team)
    make_channels(other_team)
    failed_delivery(graph, 801)
    theirs = failed_delivery(graph, 802, workspace="rival")
    assert cli("inbox", "replay", "--failed", "--workspace", "acme") == "acme: replayed=1\n"
    assert Delivery.objects.get(pk=theirs.pk).status == "failed"
    assert "rival: replayed=1" in cli("inbox", "replay", "--failed")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    assert Lead.objects.count() == 2
    assert cli("inbox", "replay", "--failed", "--workspace", "acme") == "acme: replayed=0\n"
    assert cli("inbox", "replay", "--failed") == "replayed=0 (no failed delivery)\n"
    with pytest.raises(CommandError):
        cli("inbox", "replay", "--failed", "--workspace", "nobody")


def test_cli_replays_one_delivery_by_id(team, channels, graph):
    failed = failed_delivery(graph)
    assert cli("inbox", "replay", str(failed.pk)) == "acme: replayed=1\n"
    assert Lead.objects.count() == 1
    with pytest.raises(CommandError):
        cli("inbox", "replay", str(failed.pk))
    with pytest.raises(CommandError):
        cli("inbox", "replay", "999999")


def test_reconciliation_reads_the_form_since_the_last_success_and_never_twice(
    team, channels, graph
):
    graph.page_size = 2
    for n in range(5):
        graph.add(9000 + n, form_id="3001", created=1_795_000_000 + n, phone=f"0914{n:06d}")
    post("facebook", leadgen((9000, "3001")))  # one lead came through the webhook
    assert Lead.objects.count() == 1
    out = cli("facebook", "reconcile", "--workspace", "acme")
    assert out == "form=3001 created=4 joined=0 duplicate=1 failed=0\n"
    assert Lead.objects.count() == 5 and Touch.objects.count() == 5
    first_pages = [q for path, q in graph.requests if path.endswith("/3001/leads")]
    assert len(first_pages) == 3 and "filtering" not in first_pages[0]
    synced = FacebookForm.objects.get(form_id="3001").synced_until
    assert synced is not None

    graph.add(9100, form_id="3001", created=int(synced.timestamp()) + 60, phone="0915000001")
    graph.requests.clear()
    out = cli("facebook", "reconcile", "--workspace", "acme", "--form", "3001")
    assert out.startswith("form=3001 created=1 ")
    since = json.loads(graph.requests[0][1]["filtering"])[0]
    assert since["field"] == "time_created" and since["value"] < synced.timestamp()
    assert Lead.objects.count() == 6


def test_reconciliation_during_an_outage_keeps_its_place(team, channels, graph):
    graph.add(9200, form_id="3002", created=1)
    graph.set_mode("down")
    with pytest.raises(CommandError):
        cli("facebook", "reconcile", "--workspace", "acme", "--form", "3002")
    assert FacebookForm.objects.get(form_id="3002").synced_until is None
    graph.set_mode("ok")
    cli("facebook", "reconcile", "--workspace", "acme", "--form", "3002")
    assert Lead.objects.get().external_id == "9200"


def test_reconciliation_needs_a_facebook_channel(team):
    with pytest.raises(CommandError, match="Facebook"):
        cli("facebook", "reconcile", "--workspace", "acme", "--form", "1")


def test_the_inbox_page_queries_are_bounded(team, channels, django_assert_max_num_queries):
    for n in range(30):
        post("google", google(lead_id=f"lead-{n}"))
    client = team.browser_client("admin")
    client.get("/settings/inbox/")
    with django_assert_max_num_queries(12):
        assert client.get("/settings/inbox/").content.decode().count("/settings/inbox/") >= 30


def google_person(n: int) -> dict:
    return google(
        lead_id=f"batch-{n}",
        user_column_data=[
            {"column_id": "FULL_NAME", "string_value": f"Khách {n}"},
            {"column_id": "PHONE_NUMBER", "string_value": f"+84 912 000 {n:03d}"},
        ],
    )


def receive_together(channel, numbers) -> int:
    """Deliveries that arrived while the worker was busy; the queries until all are processed."""
    with (
        CaptureQueriesContext(connection) as queries,
        TestCase.captureOnCommitCallbacks(execute=True),
        transaction.atomic(),
    ):
        for n in numbers:
            body = json.dumps(google_person(n)).encode()
            delivery_receive(channel=channel, headers={}, body=body, remote_addr="")
    return len(queries)


def test_deliveries_waiting_on_a_channel_are_captured_together(team, channels):
    channel = channels["google"]
    alone = receive_together(channel, [100])
    together = receive_together(channel, range(8))
    assert together < 3 * alone  # one by one it would be 8 times
    deliveries = Delivery.objects.filter(channel=channel).exclude(outcomes__0__ref="batch-100")
    assert sorted(deliveries.values_list("status", "attempts")) == [("done", 1)] * 8
    assert Lead.objects.filter(workspace=team.workspace).count() == 9
    outcomes = [d.outcomes for d in deliveries.order_by("id")]
    assert [o[0]["ref"] for o in outcomes] == [f"batch-{n}" for n in range(8)]
    assert {o[0]["outcome"] for o in outcomes} == {"created"}


def test_a_delivery_whose_worker_died_mid_batch_is_processed_again_once(team, channels):
    post("google", google_person(1))
    delivery = Delivery.objects.get()
    lead = Lead.objects.get()
    stranded = clock.now() - timedelta(minutes=10)  # claimed, then the worker was killed
    Delivery.objects.filter(pk=delivery.pk).update(status="processing", next_attempt_at=stranded)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("done", 2)
    assert (delivery.outcomes[0]["outcome"], delivery.outcomes[0]["lead"]) == ("created", lead.pk)
    assert list(Lead.objects.all()) == [lead]


def _near_twin(team) -> dict:
    """A delivery of someone whose phone is one digit off a contact's, with the same name."""
    capture(team, full_name="Nguyễn Văn An", phone="0912345678")
    return google(
        lead_id="twin-1",
        user_column_data=[
            {"column_id": "FULL_NAME", "string_value": "Nguyen Van An"},
            {"column_id": "PHONE_NUMBER", "string_value": "+84 912 345 679"},
        ],
    )


def test_the_worker_looks_for_fuzzy_duplicates_of_a_deliverys_contacts_itself(
    team, channels, monkeypatch
):
    payload = _near_twin(team)
    queued = []
    monkeypatch.setattr(contacts_tasks, "find_duplicates", lambda *args: queued.append(args))
    post("google", payload)
    pair = PossibleDuplicate.objects.get(workspace=team.workspace)
    assert pair.reason == "phone_typo" and queued == []  # no task for the worker's own capture


def test_a_failed_duplicate_check_on_the_worker_is_queued_as_a_task(team, channels, monkeypatch):
    payload = _near_twin(team)
    queued = []
    monkeypatch.setattr(contacts_tasks, "find_duplicates", lambda *args: queued.append(args))
    monkeypatch.setattr(contacts_tasks, "duplicates_find", _database_gone)
    post("google", payload)
    [delivery] = Delivery.objects.filter(channel=channels["google"])
    lead = Lead.objects.get(pk=delivery.outcomes[0]["lead"])
    assert delivery.status == "done"  # the lead was captured whatever the check did
    assert queued == [(team.workspace.pk, [lead.contact_id])]


def _database_gone(**_kwargs):
    raise OperationalError("the database went away")


def test_a_duplicate_check_that_can_be_neither_run_nor_queued_leaves_the_delivery_done(
    team, channels, monkeypatch
):
    payload = _near_twin(team)
    monkeypatch.setattr(contacts_tasks, "duplicates_find", _database_gone)
    monkeypatch.setattr(contacts_tasks, "find_duplicates", _queue_gone)
    post("google", payload)
    [delivery] = Delivery.objects.filter(channel=channels["google"])
    assert (delivery.status, delivery.outcomes[0]["outcome"]) == ("done", "created")


def _queue_gone(*_args):
    raise ConnectionError("Redis went away")
