"""Stage changes of one lead at the same time, on PostgreSQL: each is made from the stage the
one before left, so the timeline's from → to chain holds and the furthest stage is kept."""

from itertools import pairwise

import pytest

from leadloop.pipeline.models import EXIT_CATEGORIES, Lead, LeadEvent
from leadloop.pipeline.services import lead_change_stage
from tests.core.support import burst, capture, phone

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MOVES = ["k3", "k2", "k1", "k5", "k4-2", "k3", "k2", "k1", "k5", "k3", "k2", "k4-1"]


def test_stage_changes_at_once_keep_the_chain_and_the_furthest_stage(team):
    lead = capture(team, phone=phone(1)).lead

    def move(i: int) -> None:
        stale = Lead.objects.get(pk=lead.pk)  # read before the others commit, as a request does
        lead_change_stage(lead=stale, actor=team.actors["manager"], stage_key=MOVES[i])

    burst(len(MOVES), move)
    events = list(
        LeadEvent.objects.filter(lead=lead, kind="stage")
        .select_related("from_stage", "to_stage")
        .order_by("id")
    )
    assert events and events[0].from_stage.key == "new"
    assert all(b.from_stage_id == a.to_stage_id for a, b in pairwise(events))
    stored = Lead.objects.select_related("stage", "furthest_stage").get(pk=lead.pk)
    assert stored.stage_id == events[-1].to_stage_id
    assert stored.is_open == (not stored.stage.closes)
    reached = [e.to_stage for e in events if e.to_stage.category not in EXIT_CATEGORIES]
    assert stored.furthest_stage == max(reached, key=lambda stage: stage.position)
