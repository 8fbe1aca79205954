"""A batch that fails is played again in halves, down to the one submission that failed."""

from unittest import mock

import pytest

from leadloop.core.errors import ValidationFailed
from leadloop.intake import services
from leadloop.intake.services import Captured, Submission, leads_capture
from leadloop.pipeline.models import Lead


@pytest.mark.postgres  # SQLite stores a NUL character; PostgreSQL refuses it (DataError)
def test_a_bad_submission_fails_alone_after_a_few_halvings(team):
    submissions = [
        (Submission(phone=f"09120{n:05d}", full_name=f"Khách {n}"), None) for n in range(64)
    ]
    submissions[40] = (Submission(phone="0912099999", fields={"a": "b\x00"}), None)
    with mock.patch.object(services, "_play", wraps=services._play) as play:
        results = leads_capture(
            workspace=team.workspace, actor=team.actors["admin"], submissions=submissions
        )
    assert isinstance(results[40], ValidationFailed)
    good = [r for n, r in enumerate(results) if n != 40]
    assert all(isinstance(r, Captured) and r.created for r in good)
    assert [r.lead.contact.phone_e164 for r in good] == [
        f"+849120{n:05d}" for n in range(64) if n != 40
    ]
    assert Lead.objects.filter(workspace=team.workspace).count() == 63
    assert play.call_count <= 1 + 2 * 6 + 1  # the batch, two halves a level, the one alone


def test_a_batch_that_keeps_meeting_concurrent_writes_is_played_in_halves(team):
    submissions = [(Submission(phone=f"09130{n:05d}"), None) for n in range(8)]
    real, sizes = services._play, []

    def meets_a_concurrent_write(*args):
        sizes.append(len(args[-1]))
        if len(args[-1]) > 2:
            raise services._Replan
        return real(*args)

    with mock.patch.object(services, "_play", meets_a_concurrent_write):
        results = leads_capture(
            workspace=team.workspace, actor=team.actors["admin"], submissions=submissions
        )
    assert [r.lead.contact.phone_e164 for r in results] == [f"+849130{n:05d}" for n in range(8)]
    assert sizes == [8] * 3 + [4] * 3 + [2, 2] + [4] * 3 + [2, 2]  # never one by one
    rr = [r.lead.owner_id for r in results]
    assert len(set(rr)) > 1  # the round robin went on across the halves
