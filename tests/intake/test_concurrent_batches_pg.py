"""A batch that meets a concurrent writer on PostgreSQL: it leaves the submissions that writer
outdated out of its plan, stores the others and plays those after, on what the writer stored,
instead of playing all its submissions again.

Each test holds the writer's transaction open in a thread, starts the batch in another and
lets the writer commit once the batch waits for it in PostgreSQL."""

import threading
import time

import pytest
from django.db import connection, transaction

from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.intake.models import Touch
from leadloop.intake.services import SETTLED_FROM, Captured, Submission, leads_capture
from leadloop.pipeline.models import Lead
from leadloop.pipeline.services import lead_change_stage
from tests.core.support import capture, phone

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHARED = phone(9999)


class HeldOpen(threading.Thread):
    """Runs `work` in a transaction that commits only when `release` is called."""

    def __init__(self, work):
        super().__init__()
        self.work, self.result, self.error = work, None, None
        self.done, self.go = threading.Event(), threading.Event()

    def run(self):
        try:
            with transaction.atomic():
                self.result = self.work()
                self.done.set()
                assert self.go.wait(timeout=60), "never released"
        except Exception as exc:  # re-raised by the test
            self.error = exc
        finally:
            self.done.set()
            connection.close()

    def release(self):
        self.go.set()
        self.join(timeout=60)
        if self.error:
            raise self.error


class InThread(threading.Thread):
    def __init__(self, work):
        super().__init__()
        self.work, self.result, self.error = work, None, None

    def run(self):
        try:
            self.result = self.work()
        except Exception as exc:  # re-raised by the test
            self.error = exc
        finally:
            connection.close()

    def outcome(self):
        self.join(timeout=60)
        assert not self.is_alive(), "the batch never finished"
        if self.error:
            raise self.error
        return self.result


def wait_until_blocked(wait_event_type: str, wait_event: str) -> None:
    """Until a backend waits on a lock of this kind (the batch met the held transaction)."""
    query = (  # in this test's database only: other test workers run beside it
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = %s AND wait_event = %s"
    )
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute(query, [wait_event_type, wait_event])
            if cursor.fetchone()[0]:
                return
            assert time.monotonic() < deadline, f"the batch never waited on {wait_event}"
            time.sleep(0.02)


def batch_with_shared_person(team) -> list[Captured]:
    """SETTLED_FROM new people, the shared one third, then the rest."""
    numbers = [phone(7000 + n) for n in range(SETTLED_FROM)]
    numbers[2] = SHARED
    submissions = [(Submission(phone=n, full_name=f"Khách {n}"), None) for n in numbers]
    return leads_capture(
        workspace=team.workspace, actor=team.actors["admin"], submissions=submissions
    )


def assert_shared_person_played_last(team, results: list[Captured], lead: Lead) -> None:
    assert all(isinstance(r, Captured) for r in results), results
    shared = results[2]
    assert not shared.created and shared.lead.pk == lead.pk  # joined the first writer's lead
    assert all(r.created for n, r in enumerate(results) if n != 2)
    assert Contact.objects.filter(workspace=team.workspace, phone_e164="+84910009999").count() == 1
    touches = Touch.objects.filter(workspace=team.workspace, lead__in=[r.lead for r in results])
    last_of_the_others = touches.get(lead=results[-1].lead).pk
    assert touches.filter(lead=lead).order_by("-id").first().pk > last_of_the_others
    owners = [r.lead.owner_id for n, r in enumerate(results) if n != 2]
    assert None not in owners and len(set(owners)) > 1


def test_a_new_person_another_writer_stored_meanwhile_is_played_after_the_others(team):
    lone = HeldOpen(lambda: capture(team, phone=SHARED, full_name="Một mình"))
    lone.start()
    assert lone.done.wait(timeout=60)
    second = InThread(lambda: batch_with_shared_person(team))
    second.start()
    wait_until_blocked("Lock", "transactionid")  # at the unique constraint of the phone
    lone.release()
    results = second.outcome()
    assert_shared_person_played_last(team, results, lone.result.lead)


def test_a_read_contact_whose_lead_closed_meanwhile_gets_a_returning_lead_last(team):
    earlier = capture(team, phone=SHARED, full_name="Đã có")
    closing = HeldOpen(
        lambda: lead_change_stage(lead=earlier.lead, actor=team.actors["admin"], stage_key="k4-2")
    )
    closing.start()
    assert closing.done.wait(timeout=60)
    second = InThread(lambda: batch_with_shared_person(team))
    second.start()
    wait_until_blocked("Lock", "transactionid")  # its shared lock on the lead being closed
    closing.release()
    results = second.outcome()
    shared = results[2]
    assert shared.created and shared.returning and shared.lead.pk != earlier.lead.pk
    assert shared.lead.contact_id == earlier.lead.contact_id
    assert Lead.objects.filter(contact_id=earlier.lead.contact_id, is_open=True).count() == 1
    last_of_the_others = Touch.objects.get(lead=results[-1].lead).pk
    assert Touch.objects.get(lead=shared.lead).pk > last_of_the_others
    assert all(r.created and not r.returning for n, r in enumerate(results) if n != 2)


def test_a_contact_flagged_with_an_outdated_new_one_is_played_after_too(team):
    known = capture(team, phone=phone(6000), full_name="Đã biết").lead.contact
    lone = HeldOpen(lambda: capture(team, phone=SHARED, full_name="Một mình"))
    lone.start()
    assert lone.done.wait(timeout=60)
    numbers = [phone(7000 + n) for n in range(SETTLED_FROM)]
    submissions = [(Submission(phone=n), None) for n in numbers]
    submissions[2] = (Submission(phone=SHARED, email="chung@example.vn"), None)
    submissions[5] = (Submission(phone=known.phone_raw, email="chung@example.vn"), None)
    second = InThread(
        lambda: leads_capture(
            workspace=team.workspace, actor=team.actors["admin"], submissions=submissions
        )
    )
    second.start()
    wait_until_blocked("Lock", "transactionid")
    lone.release()
    results = second.outcome()
    stored = lone.result.lead.contact
    stored.refresh_from_db()
    assert stored.email == "chung@example.vn"  # the gap filled by the submission played late
    assert results[2].lead.pk == lone.result.lead.pk
    assert results[5].lead.contact_id == known.pk
    pair = PossibleDuplicate.objects.get(workspace=team.workspace)
    assert (pair.contact_id, pair.other_id) == (known.pk, stored.pk)
    late = Touch.objects.filter(lead=results[5].lead).latest("id").pk  # after its first one
    assert late > Touch.objects.get(lead=results[-1].lead).pk
    assert Contact.objects.filter(workspace=team.workspace).count() == 2 + SETTLED_FROM - 2


def test_a_batch_all_of_one_person_another_writer_stored_is_played_again_whole(team):
    lone = HeldOpen(lambda: capture(team, phone=SHARED, full_name="Một mình"))
    lone.start()
    assert lone.done.wait(timeout=60)
    submissions = [(Submission(phone=SHARED, note=f"lần {n}"), None) for n in range(SETTLED_FROM)]
    second = InThread(
        lambda: leads_capture(
            workspace=team.workspace, actor=team.actors["admin"], submissions=submissions
        )
    )
    second.start()
    wait_until_blocked("Lock", "transactionid")
    lone.release()
    results = second.outcome()
    assert {r.lead.pk for r in results} == {lone.result.lead.pk}
    assert not any(r.created for r in results)
    touches = Touch.objects.filter(lead=lone.result.lead).order_by("id")
    assert len(touches) == 1 + SETTLED_FROM
    assert Contact.objects.filter(workspace=team.workspace).count() == 1
