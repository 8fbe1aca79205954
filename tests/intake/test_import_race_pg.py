"""An import started and discarded at the same instant (two tabs, a double click) on
PostgreSQL: one of the two wins, the other is refused, and what is stored says which."""

import pytest

from leadloop.core.errors import NotFound, ValidationFailed
from leadloop.core.models import AuditLog
from leadloop.intake.imports import import_confirm, import_discard, import_get, import_open
from leadloop.intake.models import Import
from tests.core.support import burst
from tests.intake.test_import_files import HEADER, ROWS, csv_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_start_and_a_discard_sent_at_once_one_wins(team, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(csv_text([HEADER, *ROWS]), encoding="utf-8")
    actor = team.actors["marketer"]
    for _round in range(5):  # the two meet in a different order from round to round
        job = import_open(
            workspace=team.workspace, actor=actor, path=path, file_name="a.csv", origin="hội chợ"
        )
        pk, mapping = job.pk, list(job.mapping)

        def send(i: int, pk=pk, mapping=mapping):
            try:
                job = import_get(workspace=team.workspace, fetched_by=actor, import_id=pk)
                if i == 0:
                    import_confirm(job=job, actor=actor, mapping=mapping, background=False)
                    return "started"
                import_discard(job=job, actor=actor)
                return "discarded"
            except NotFound:
                return "not found"
            except ValidationFailed as exc:
                return exc.code

        started, discarded = burst(2, send)
        stored = Import.objects.filter(pk=pk).values_list("status", flat=True).first()
        if stored is None:  # the discard won: the start found nothing to start
            assert (started, discarded) == ("not found", "discarded")
        else:  # the start won: the discard was refused and the import is queued
            assert (started, discarded, stored) == ("started", "import_started", "queued")
        actions = set(
            AuditLog.objects.filter(object_type="import", object_id=str(pk)).values_list(
                "action", flat=True
            )
        )
        assert actions == {"import.open", "import.discard" if stored is None else "import.start"}
        assert path.is_file()  # a file the caller named stays where it is
