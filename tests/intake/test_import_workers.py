"""A long import runs in several processes and comes out as one would make it:
the same leads, owners (the round robin in file order), counts and error report; a reading that
fails midway stops them and keeps what was stored, and the import resumes after it; a process
that fails stops the others."""

import multiprocessing
import sqlite3
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import translation

from leadloop.contacts.models import Contact
from leadloop.intake import import_workers, imports
from leadloop.intake.imports import import_confirm, import_open, import_run
from leadloop.intake.models import Import, Touch
from leadloop.intake.turns import Written
from leadloop.pipeline.models import Lead

pytestmark = pytest.mark.django_db(transaction=True)  # the processes read what was committed

PEOPLE = [(f"Khách {n}", f"0912{n:06d}") for n in range(40)]
ROWS = [
    ["Họ tên", "SĐT", "Email", "Nguồn", "Chiến dịch"],
    *(
        [name, phone, "", "Facebook" if n % 3 else "Hội chợ", f"Tết {n % 4}" if n > 9 else ""]
        for n, (name, phone) in enumerate(PEOPLE)
    ),
    *([name + " (lần 2)", phone, "", "Zalo", "Tết 9"] for name, phone in PEOPLE[::3]),  # repeats
    ["Không số", "", "", "", ""],  # no phone, no e-mail: invalid
    [*PEOPLE[5], "", "Facebook", ""],  # the same row again: no second touch
    ["Người mới", "0987 000 111", "moi@example.com", "Google", "Tết 1"],
]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 4)  # 15 chunks, many people in two of them


@pytest.fixture
def workers_used(monkeypatch):
    calls = []

    def spy(job, chunks):
        calls.append(job.pk)
        return import_workers.chunks_in_workers(job, chunks)

    monkeypatch.setattr(import_workers, "PARALLEL_FROM_ROWS", 1)
    monkeypatch.setattr(imports, "chunks_in_workers", spy)
    return calls


def csv_file(tmp_path, name, rows):
    path = tmp_path / name
    path.write_bytes("".join(",".join(row) + "\r\n" for row in rows).encode())
    return path


def queued(team, path) -> Import:
    actor = team.actors["manager"]
    job = import_open(workspace=team.workspace, actor=actor, path=path, file_name=path.name,
                      origin="hội chợ tháng 11")  # fmt: skip
    return import_confirm(job=job, actor=actor, mapping=job.mapping, background=False)


def run(team, path) -> Import:
    return import_run(import_id=queued(team, path).pk)


def outcome(job: Import) -> dict:
    """Each lead by its person: name, owner (by role), returning flag, touches, source, campaign
    and the campaign's source."""
    leads = Lead.objects.filter(workspace=job.workspace).select_related(
        "contact", "owner", "source", "campaign__source"
    )
    return {
        lead.contact.phone_e164 or lead.contact.email: (
            lead.contact.full_name,
            lead.owner.email.split("@")[0] if lead.owner else None,
            lead.returning,
            lead.touches.count(),
            lead.source.key if lead.source else "",
            (lead.campaign.key, lead.campaign.source.key) if lead.campaign else None,
        )
        for lead in leads
    }


def counts(job: Import) -> tuple:
    problems = [(p.row, p.column, p.reason) for p in job.problems.order_by("row")]
    assigned = {job.workspace.members.get(pk=pk).email.split("@")[0]: n
                for pk, n in job.assigned.items()}  # fmt: skip
    return (job.status, job.rows_read, job.created, job.merged, job.invalid, job.failed,
            assigned, problems)  # fmt: skip


def test_several_processes_make_what_one_makes(
    team, other_team, tmp_path, small_chunks, workers_used, settings
):
    path = csv_file(tmp_path, "leads.csv", ROWS)
    settings.LEADLOOP_IMPORT_PROCESSES = 1
    alone = run(other_team, path)
    settings.LEADLOOP_IMPORT_PROCESSES = 3
    together = run(team, path)

    assert workers_used == [together.pk]
    assert counts(together) == counts(alone)
    assert together.status == Import.Status.DONE and together.rows_read == len(ROWS) - 1
    assert (together.created, together.merged, together.invalid) == (41, 15, 1)
    assert outcome(together) == outcome(alone)
    owners = [owner for _name, owner, *_rest in outcome(together).values()]
    assert owners.count("sales") in (20, 21) and owners.count("sales2") in (20, 21)
    assert multiprocessing.active_children() == []


def neighbours_file(tmp_path):
    """Ten chunks of 25 rows: 20 new people each, 5 of the chunk before again (3 with another
    name and source, 2 as the very same row)."""
    rows, header = [], ["Họ tên", "SĐT", "Nguồn"]
    for chunk in range(10):
        new = [[f"Khách {chunk}-{n}", f"0915{chunk:02d}{n:04d}", "Facebook"] for n in range(20)]
        again = rows[-20:][:5] if rows else [[f"Khách đầu {n}", f"0916{n:06d}", "Zalo"]
                                              for n in range(5)]  # fmt: skip
        again = [[name + " (lần 2)", phone, "Zalo"] for name, phone, _s in again[:3]] + again[3:]
        rows += new[:10] + again + new[10:]
    return csv_file(tmp_path, "neighbours.csv", [header, *rows])


def inserted(model) -> int:
    """Rows ever inserted into the model's table, rolled back or not, once the import's
    database sessions ended (they report on leaving)."""
    with connection.cursor() as cursor:
        for _poll in range(100):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            if not cursor.fetchone()[0]:
                break
            time.sleep(0.05)
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = %s",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0]


def filling_file(tmp_path):
    """40 people known by e-mail alone, then chunks of new people by phone, each followed by 5
    of the people before again with a known person's e-mail: a row that, read before the chunk
    before it committed, would give that person's phone to the e-mail's contact."""
    rows, header = [], ["Họ tên", "SĐT", "Email"]
    rows += [[f"Chị {n}", "", f"chi{n}@example.com"] for n in range(40)]
    for group in range(8):
        new = [[f"Khách {group}-{n}", f"0917{group:02d}{n:04d}", ""] for n in range(20)]
        before = rows[-20:][:5] if group else []
        again = [
            [name + " (lần 2)", phone, f"chi{group * 5 + i}@example.com"]
            for i, (name, phone, _e) in enumerate(before)
        ]
        rows += new[:10] + again + new[10:]
    return csv_file(tmp_path, "filling.csv", [header, *rows])


def alone_then_together(team, other_team, path, settings) -> tuple[Import, Import]:
    """The file imported by one process into one workspace, then by two into another."""
    settings.LEADLOOP_IMPORT_PROCESSES = 1
    alone = run(other_team, path)
    settings.LEADLOOP_IMPORT_PROCESSES = 2
    return alone, run(team, path)


@pytest.mark.parametrize(
    ("made", "created_merged"), [(neighbours_file, (205, 45)), (filling_file, (200, 35))]
)
def test_chunks_sharing_people_with_the_chunk_before_make_what_one_process_makes(
    team, other_team, tmp_path, workers_used, monkeypatch, settings, made, created_merged
):
    monkeypatch.setattr(imports, "CHUNK", 25)  # a batch that settles (SETTLED_FROM)
    alone, together = alone_then_together(team, other_team, made(tmp_path), settings)

    assert workers_used == [together.pk]
    assert counts(together) == counts(alone)
    assert outcome(together) == outcome(alone)
    assert (together.created, together.merged) == created_merged


@pytest.mark.postgres  # which counts the rows it ever inserted, rolled back or not
@pytest.mark.parametrize("made", [neighbours_file, filling_file])
def test_people_of_the_chunk_before_are_left_out_before_writing_not_met_at_the_constraint(
    team, tmp_path, workers_used, monkeypatch, settings, made
):
    monkeypatch.setattr(imports, "CHUNK", 25)
    path = made(tmp_path)
    settings.LEADLOOP_IMPORT_PROCESSES = 2
    contacts_before, touches_before = inserted(Contact), inserted(Touch)
    together = run(team, path)

    assert workers_used == [together.pk] and together.status == Import.Status.DONE
    stored = Contact.objects.filter(workspace=team.workspace).count()
    touches = Touch.objects.filter(workspace=team.workspace).count()
    assert inserted(Contact) - contacts_before == stored  # none written, then rolled back
    assert inserted(Touch) - touches_before == touches


def test_a_reading_that_fails_midway_stops_both_and_the_import_resumes(
    team, tmp_path, workers_used, monkeypatch
):
    monkeypatch.setattr(imports, "CHUNK", 1000)
    people = [["Tên", "SĐT"], *([f"Người {i}", f"0913{i:06d}"] for i in range(5000))]
    path = csv_file(tmp_path, "leads.csv", people)
    job = queued(team, path)
    with path.open("ab") as f:  # broken after it was opened and counted
        f.write(b"Bad \xff\xfe row,0912999999\r\n")

    stopped = import_run(import_id=job.pk)

    assert workers_used == [stopped.pk]
    assert stopped.status == Import.Status.FAILED and "UTF-8" in stopped.error
    # the chunks handed out before the bad row are stored: whole chunks, the first of the file
    assert stopped.rows_read == stopped.created == Lead.objects.count()
    assert stopped.rows_read >= 1000 and stopped.rows_read % 1000 == 0
    assert multiprocessing.active_children() == []

    path.write_bytes(path.read_bytes().replace(b"Bad \xff\xfe row", b"Fixed row"))
    Import.objects.filter(pk=stopped.pk).update(status=Import.Status.QUEUED)
    resumed = import_run(import_id=stopped.pk)

    assert resumed.status == Import.Status.DONE
    assert (resumed.rows_read, resumed.created, resumed.merged) == (5001, 5001, 0)
    assert Lead.objects.count() == 5001


def test_a_process_that_fails_stops_the_others_and_the_import_fails_cleanly(
    team, tmp_path, small_chunks, workers_used, monkeypatch
):
    monkeypatch.setenv("LEADLOOP_IMPORT_MAX_ROWS", "many")  # the processes' settings break
    with translation.override("en"):
        job = run(team, csv_file(tmp_path, "leads.csv", ROWS))

    assert workers_used == [job.pk]
    assert job.status == Import.Status.FAILED
    assert job.error.startswith("The import stopped on an unexpected error after 0 rows.")
    assert "Import the same file again to add the rest" in job.error
    assert (job.rows_read, job.created, Lead.objects.count()) == (0, 0, 0)
    assert multiprocessing.active_children() == []


def test_a_chunk_writes_only_in_its_turn_and_a_stop_wakes_those_waiting():
    turns = import_workers.Turns(multiprocessing.get_context("spawn"))
    written, stopped = [], []

    def chunk(index):
        try:
            turns.wait(index)
        except import_workers.Stopped:
            stopped.append(index)
            return
        written.append(index)
        turns.pass_on(index)

    later = [threading.Thread(target=chunk, args=(i,)) for i in (2, 1)]
    for thread in later:
        thread.start()
    time.sleep(0.3)
    assert written == []  # chunks 1 and 2 wait for chunk 0
    first = threading.Thread(target=chunk, args=(0,))
    first.start()
    for thread in [first, *later]:
        thread.join(timeout=10)
    assert written == [0, 1, 2]

    waiting = threading.Thread(target=chunk, args=(5,))
    waiting.start()
    time.sleep(0.3)
    turns.stop()
    waiting.join(timeout=10)
    assert stopped == [5] and written == [0, 1, 2] and turns.stopped


def test_a_chunk_that_waits_too_long_for_its_turn_stops_the_import(monkeypatch):
    monkeypatch.setattr(import_workers, "TURN_TIMEOUT_S", 0.2)
    turns = import_workers.Turns(multiprocessing.get_context("spawn"))
    with pytest.raises(import_workers.Stopped):
        turns.wait(1)  # chunk 0 never passes the turn on
    assert turns.stopped  # so the import fails instead of ending without chunk 1's rows


def test_on_sqlite_a_turn_that_cannot_take_the_write_lock_stops_and_is_not_played_again(team):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's one write lock")
    connection.ensure_connection()
    mode, connection.transaction_mode = connection.transaction_mode, "DEFERRED"  # as the processes
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (timeout,) = cursor.fetchone()
        cursor.execute("PRAGMA busy_timeout = 100")
    outside = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    turns = import_workers.Turns(multiprocessing.get_context("spawn"))
    try:
        # a chunk's transaction, then a batch's savepoint
        with (
            pytest.raises(import_workers.WriteLockMissed),
            transaction.atomic(),
            transaction.atomic(),
        ):
            assert Lead.objects.count() == 0  # planning: reading only
            outside.execute("BEGIN IMMEDIATE")  # another writer, past the timeout
            import_workers.ChunkTurn(turns, 0).wait()
        outside.execute("ROLLBACK")
        with transaction.atomic():  # the connection is sound again
            Touch.objects.filter(workspace=team.workspace).delete()
    finally:
        outside.close()
        connection.transaction_mode = mode
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def test_a_chunk_learns_what_the_chunks_ahead_wrote_since_its_reading():
    turns = import_workers.Turns(multiprocessing.get_context("spawn"))
    first, second = import_workers.ChunkTurn(turns, 0), import_workers.ChunkTurn(turns, 1)
    read_at = second.stamp()  # chunk 1 reads while chunk 0 is being written
    first.wait()
    first.wrote(Written(phones={"+84912000001"}, dedupe_keys={"import:row-1"}))
    first.wrote(Written(contacts={7}))
    first.pass_on()

    second.wait()
    assert second.written_since(read_at) == Written(
        phones={"+84912000001"}, contacts={7}, dedupe_keys={"import:row-1"}
    )
    assert second.written_since(second.stamp()) == Written()  # read in its turn: nothing
    second.wrote(Written(emails={"lan@example.com"}))
    second.pass_on()

    later = [import_workers.ChunkTurn(turns, i) for i in range(2, 2 + import_workers.HANDED_ON)]
    for chunk in later:
        chunk.wait()
        chunk.pass_on()
    assert later[0].written_since(0).emails == {"lan@example.com"}
    assert later[-1].written_since(0) is None  # chunk 0 is no longer handed on: unknown


def test_a_hand_over_too_large_leaves_the_next_chunk_to_read_again(monkeypatch):
    monkeypatch.setattr(import_workers, "HAND_OVER_BYTES", 200)
    turns = import_workers.Turns(multiprocessing.get_context("spawn"))
    first, second = import_workers.ChunkTurn(turns, 0), import_workers.ChunkTurn(turns, 1)
    first.wait()
    first.wrote(Written(phones={f"+8491200{n:04d}" for n in range(50)}))
    first.pass_on()
    second.wait()
    assert second.written_since(0) is None
