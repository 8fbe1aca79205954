"""Concurrent merges of the same pair on PostgreSQL: the rows are locked, one merge wins."""

import pytest

from leadloop.contacts.models import Contact, ContactMerge
from leadloop.contacts.services import contact_merge
from leadloop.core.errors import NotFound
from leadloop.pipeline.models import Lead
from tests.core.support import capture
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
