"""Merges on PostgreSQL beside other writers: the rows are locked, one merge wins, and a merge
waits for a capture that writes for one of its contacts."""

import threading

import pytest
from django.db import connection

from leadloop.contacts.models import Contact, ContactMerge
from leadloop.contacts.services import contact_merge
from leadloop.core.errors import NotFound
from leadloop.intake.models import Touch
from leadloop.intake.services import _Batch
from leadloop.pipeline.models import Lead
from leadloop.pipeline.services import lead_change_stage
from tests.core.support import capture, wait_for
from tests.intake.test_concurrency_pg import burst

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_merges_of_one_pair_do_not_corrupt(team):
    a = capture(team, full_name="Nguyễn Văn An", phone="0912345678").lead
    b = capture(team, full_name="Nguyen Van An", phone="0912345679").lead
    ids = [(a.contact_id, b.contact_id), (b.contact_id, a.contact_id)] * 3

    def merge(i: int):
        gone, into = ids[i]
        try:
            return contact_merge(
                workspace=team.workspace, actor=team.actors["admin"], contact_id=gone, into_id=into
            )
        except NotFound:
            return None

    results = burst(len(ids), merge)
    assert len([r for r in results if r]) == 1
    survivor = Contact.objects.get()
    assert ContactMerge.objects.get().into == survivor
    assert Lead.objects.filter(contact=survivor).count() == 2
    assert Lead.objects.filter(contact=survivor, is_open=True).count() == 1


def test_a_merge_waits_for_a_capture_that_writes_for_the_merged_away_contact(team, monkeypatch):
    """The rows a capture writes refer to the contacts it read without a database constraint:
    the capture keeps them from being deleted until it commits. A merge that starts while the
    capture writes a returning lead for its contact (no open lead to lock) waits, then moves
    that lead too: nothing is left pointing at the merged-away contact."""
    gone = capture(team, full_name="Trần Thị Bình", phone="0912345670").lead
    lead_change_stage(lead=gone, actor=team.actors["admin"], stage_key="k4-2")
    survivor = capture(team, full_name="Tran Thi Binh", phone="0912345671").lead.contact
    merged = threading.Event()

    def merge() -> None:
        try:
            contact_merge(workspace=team.workspace, actor=team.actors["admin"],
                          contact_id=gone.contact_id, into_id=survivor.pk)  # fmt: skip
            merged.set()
        finally:
            connection.close()

    route = _Batch._route

    def route_while_a_merge_starts(batch, router):
        thread = threading.Thread(target=merge)
        thread.start()
        blocked = wait_for(lambda: merged.is_set() or _someone_waits_for_a_lock())
        assert blocked and not merged.is_set()  # the merge waits while the capture writes
        routed.append((route(batch, router), thread))
        return routed[-1][0]

    routed = []
    monkeypatch.setattr(_Batch, "_route", route_while_a_merge_starts)
    returning = capture(team, full_name="Trần Thị Bình", phone="0912345670").lead
    routed[0][1].join(timeout=30)

    assert merged.is_set() and returning.returning
    assert not Contact.objects.filter(pk=gone.contact_id).exists()
    assert set(Lead.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    assert set(Touch.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    assert Lead.objects.filter(contact=survivor, is_open=True).count() == 1


def _someone_waits_for_a_lock() -> bool:
    """Another session of this test's database waits for a row lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0
