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
"""

import logging
import threading

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

log = logging.getLogger(__name__)
_lock = threading.Lock()
_captured = 0  # by this process
_checking: threading.Thread | None = None


def statistics_keep_up(captured: int) -> None:
    """Count `captured` submissions just stored; at each check, start the thread that analyses
    the grown tables (unless the last one is still at it)."""
    global _captured, _checking
    if connection.vendor != "postgresql":
        return
    with _lock:
        before = _captured
        _captured += captured
        if before // CHECK_EVERY == _captured // CHECK_EVERY or _checking is not None:
            return
        _checking = checking = threading.Thread(target=_refresh, name="statistics", daemon=True)
    checking.start()


def _refresh() -> None:
    global _checking
    try:
        with connection.cursor() as cursor:
            cursor.execute(STALE, [list(LOOKED_UP_BY)])
            if stale := [table for (table,) in cursor.fetchall()]:
                columns = ", ".join(f"{t} ({LOOKED_UP_BY[t]})" for t in stale)
                cursor.execute(f"ANALYZE (SKIP_LOCKED) {columns}")  # one running: no need
    except Exception as exc:  # the captures are stored: the next check tries again
        log.warning("could not refresh the statistics of the capture tables: %s", exc)
    finally:
        connection.close()  # this thread's own connection
        with _lock:
            _checking = None
