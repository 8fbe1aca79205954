"""A capture reads only the rows of the people it is about, however many the workspace holds,
even where autovacuum does not keep PostgreSQL's statistics up with the tables' growth (it is
off on this machine, and the migrations made the indexes on empty tables)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.core.access import Actor
from leadloop.intake.services import Submission, lead_capture, leads_capture
from tests.core.support import estimated_rows, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PEOPLE = 2000
LOOKED_UP = {"contacts_contact", "intake_touch", "pipeline_lead"}


def rows_read(plan: dict) -> dict[str, int]:
    """Rows each table gave a plan (kept or filtered out), over all the loops."""
    read: dict[str, int] = {}
    if table := plan.get("Relation Name"):
        seen = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
        read[table] = seen * plan["Actual Loops"]
    for child in plan.get("Plans", []):
        for name, count in rows_read(child).items():
            read[name] = read.get(name, 0) + count
    return read


def crowd(size: int) -> list:
    """`size` new people, each from a Facebook lead of its own (the same in every workspace)."""
    return [
        (
            Submission(
                full_name=f"Khách {i}", phone=f"09{i:08d}", source="facebook", external_id=f"{i}"
            ),
            {},
        )
        for i in range(size)
    ]


def workspace_rows_estimated(table: str, workspace) -> float:
    """What the planner believes one workspace holds in a table."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE workspace_id = %s", [workspace.pk]
        )
        return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]


def test_a_capture_probes_the_indexes_instead_of_walking_the_workspace(team):
    with connection.cursor() as cursor:  # statistics of empty tables, as after the migrations
        cursor.execute("ANALYZE contacts_contact, intake_touch, pipeline_lead")
    actor = Actor.system(team.workspace)
    leads_capture(workspace=team.workspace, actor=actor, submissions=crowd(PEOPLE))
    assert wait_for(  # the engine's own refresh, on a thread of its own
        lambda: min(estimated_rows("contacts_contact"), estimated_rows("intake_touch")) >= PEOPLE
    )
    assert_lookups_probe(team)


def test_a_new_workspace_is_probed_too_where_the_tables_are_known(team, other_team):
    """The statistics knew the tables well, but not the new workspace: the planner took it for
    empty, and walked all of it for every phone until the whole table grew by half."""
    settled = Actor.system(other_team.workspace)
    leads_capture(workspace=other_team.workspace, actor=settled, submissions=crowd(3 * PEOPLE))
    assert wait_for(lambda: estimated_rows("intake_touch") >= 3 * PEOPLE)

    actor = Actor.system(team.workspace)  # a third more rows: the tables as such are known
    leads_capture(workspace=team.workspace, actor=actor, submissions=crowd(PEOPLE))
    assert wait_for(
        lambda: (
            min(
                workspace_rows_estimated(table, team.workspace)
                for table in ("contacts_contact", "intake_touch")
            )
            >= PEOPLE / 2
        )
    )
    assert_lookups_probe(team)


def assert_lookups_probe(team) -> None:
    """A capture of a known phone reads only that person's rows."""
    actor = Actor.system(team.workspace)
    with CaptureQueriesContext(connection) as queries:
        again = lead_capture(
            workspace=team.workspace,
            actor=actor,
            submission=Submission(
                full_name="Khách 7",
                phone="0900000007",
                email="khach7@example.vn",
                source="facebook",
                external_id="new-7",
            ),
        )
    assert not again.created  # joined the open lead of the known phone

    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith("SELECT")]
    assert any("intake_touch" in sql for sql in reads) and any(
        "contacts_contact" in sql for sql in reads
    )
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            read = rows_read(cursor.fetchone()[0][0]["Plan"])
            assert all(read.get(table, 0) <= 5 for table in LOOKED_UP), (read, sql)
