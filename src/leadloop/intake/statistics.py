"""The planner's statistics of the tables the capture engine looks rows up by, kept up with their
growth by the engine itself (PostgreSQL).

Until `ANALYZE` has seen a table with rows, PostgreSQL takes its indexes for empty (they were
made with the table, by the migrations), and every index that starts with the workspace looks
as cheap as the one that also holds the phone: a capture then walks all the workspace's
contacts to find one phone (3 ms at 5,600 contacts, growing with the table; 125 ms for a
thousand phones). Autovacuum analyses a table that grew, within a minute — where it runs: it is
off on some servers (this project's benchmark machine among them), and a long import outgrows
the statistics long before. So every process checks, after every `CHECK_EVERY` submissions it
captured, whether a table has grown by half since it was last analysed (its size on disk
against the one the statistics recorded: no lag, unlike the activity counters), and analyses
only those, only the columns looked up by: the statistics of the touches' raw JSON alone cost
more than a chunk's capture. The check runs on a thread of its own, one at a time: no request,
group commit or import turn waits for it.

A table can be well known and a workspace in it not: one created since the last `ANALYZE`
(a new client importing its first file into a shared database) looks empty to the planner,
which then walks all its rows for every phone until the whole table has grown by half. So the
check also asks the planner how many rows it expects of each workspace this process wrote to
since the last check, and analyses a table where that is under half of what this process
alone stored there.
"""

import logging
import threading
from collections import Counter

from django.db import connection

from leadloop.contacts.models import Contact
from leadloop.intake.models import Touch
from leadloop.pipeline.models import Lead

CHECK_EVERY = 500  # submissions captured by this process between two checks
LOOKED_UP_BY = {  # table -> the columns the capture engine finds its rows by
    Contact._meta.db_table: "workspace_id, phone_e164, phone_valid, email, email_valid",
    Lead._meta.db_table: "contact_id, is_open",
    Touch._meta.db_table: "workspace_id, dedupe_key",
}
STALE = (  # grown by half (and ten pages) since analysed, or never analysed with rows
    "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[])"
    " AND pg_relation_size(oid) > (1.5 * relpages + 10) * current_setting('block_size')::int"
)

KNOWN_FROM = 1000  # rows of a workspace in a table before the planner's guess matters

log = logging.getLogger(__name__)
_lock = threading.Lock()
_captured = 0  # submissions, by this process
_stored: Counter[tuple[str, int]] = Counter()  # (table, workspace id) -> rows this process wrote
_written: set[tuple[str, int]] = set()  # … of which those written since the last check
_checking: threading.Thread | None = None


def statistics_keep_up(workspace_id: int, touches: int, contacts: int) -> None:
    """Count the submissions just stored in a workspace (one touch each) and the contacts they
    made; at each check, start the thread that analyses the tables grown or unaware of a
    workspace (unless the last one is still at it)."""
    global _captured, _checking
    if connection.vendor != "postgresql":
        return
    with _lock:
        for table, rows in ((Touch._meta.db_table, touches), (Contact._meta.db_table, contacts)):
            if rows:
                _stored[table, workspace_id] += rows
                _written.add((table, workspace_id))
        before = _captured
        _captured += touches
        if before // CHECK_EVERY == _captured // CHECK_EVERY or _checking is not None:
            return
        written = {key: _stored[key] for key in _written if _stored[key] >= KNOWN_FROM}
        _written.clear()
        _checking = checking = threading.Thread(
            target=_refresh, args=(written,), name="statistics", daemon=True
        )
    checking.start()


def _refresh(written: dict[tuple[str, int], int]) -> None:
    global _checking
    try:
        with connection.cursor() as cursor:
            cursor.execute(STALE, [list(LOOKED_UP_BY)])
            stale = {table for (table,) in cursor.fetchall()}
            stale |= {
                table
                for (table, workspace_id), stored in written.items()
                if table not in stale and _rows_expected(cursor, table, workspace_id) < stored / 2
            }
            if stale:
                columns = ", ".join(f"{t} ({LOOKED_UP_BY[t]})" for t in sorted(stale))
                cursor.execute(f"ANALYZE (SKIP_LOCKED) {columns}")  # one running: no need
    except Exception as exc:  # the captures are stored: the next check tries again
        log.warning("could not refresh the statistics of the capture tables: %s", exc)
    finally:
        connection.close()  # this thread's own connection
        with _lock:
            _checking = None


def _rows_expected(cursor, table: str, workspace_id: int) -> float:
    """The planner's guess of a workspace's rows in a table (planned, not run)."""
    cursor.execute(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE workspace_id = %s", [workspace_id]
    )
    return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
