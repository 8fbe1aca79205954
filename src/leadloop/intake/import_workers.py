"""A long import in several processes (LEADLOOP_IMPORT_PROCESSES, 2 by default): while one
writes its chunk, the next plans its own, so the capture engine's Python and the database's
work use both cores, where one process used about one. On SQLite, which lets one connection
write at a time, a chunk plans in a transaction that only reads and takes the write lock in
its turn (`_reading_ended_then_write_lock`).

Chunks are still written in file order. A chunk is planned at once, but takes its first lock
(the assignment rules) only once the chunk before it committed: its turn. So the round robin
deals the leads in file order, the counts are always those of the first rows of the file, and
a stopped import resumes after its last stored chunk, as with one process. Waiting for its
turn, a chunk holds no lock: it has only read (a chunk naming a source or campaign new to the
workspace waits for its turn before it stores it).

A person in two neighbouring chunks: the later chunk was planned before the earlier one
committed. Each chunk hands on, with its turn, what it stored (phones, e-mails, contacts touched,
dedupe keys; see `intake.turns.Written`) for the last few chunks; the later one leaves those
people out of its plan before it writes and plays them after the rest, on what is stored. What
the hand-over does not know (a concurrent writer outside the import) is met as before: at the
unique constraints, then read again.

The processes are started fresh (`spawn`: no copy of this process's threads and connections)
with this process's database settings, and take chunks of raw rows from a queue no longer than
the number of processes, so memory stays constant. The first process to fail stops the others;
a file that cannot be read further stops the import after the chunks read before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty, Full

from django.conf import settings
from django.db import DatabaseError, connection
from huey.contrib.djhuey import HUEY

from leadloop.intake.turns import Written

log = logging.getLogger(__name__)

PARALLEL_FROM_ROWS = 20_000  # below this, starting the processes (~2 s each) is not worth it
TURN_TIMEOUT_S = 600  # a chunk waiting longer than this for the one before it stops the import
POLL_S = 0.5
STOPPED = -1
HANDED_ON = 4  # chunks whose writes are handed on: more than can be in flight before one
HAND_OVER_BYTES = 8 * 2**20  # room for them (~0.1 MB a chunk); past it, later chunks read again


class Stopped(Exception):
    """Another process of the import failed, or the reading did."""


class WriteLockMissed(Exception):
    """SQLite: a chunk's turn came, but not the write lock (not played again: it stops)."""


class Turns:
    """Whose turn it is to write (the index of a chunk), shared by the processes of an import."""

    def __init__(self, context):
        self._next = context.Value("q", 0)
        self._changed = context.Condition(self._next.get_lock())
        self._handed = context.RawArray("B", HAND_OVER_BYTES)  # pickled {index: Written}
        self._handed_size = context.RawValue("q", 0)  # -1: too large, not handed on

    def wait(self, index: int) -> None:
        with self._changed:
            ready = self._changed.wait_for(
                lambda: self._next.value in (index, STOPPED), timeout=TURN_TIMEOUT_S
            )
            if not ready:  # the chunk before is stuck: stop the import, lest it end as done
                self._next.value = STOPPED
                self._changed.notify_all()
            if self._next.value == STOPPED:
                raise Stopped(f"chunk {index} did not get its turn")

    def pass_on(self, index: int, handing: dict[int, Written] | None = None) -> None:
        """The turn to the next chunk, with what the last chunks wrote (`handing`)."""
        with self._changed:
            if handing is not None:
                self._hand(handing)
            if self._next.value != STOPPED:
                self._next.value = index + 1
            self._changed.notify_all()

    def _hand(self, handing: dict[int, Written]) -> None:
        data = pickle.dumps(handing, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > len(self._handed):
            self._handed_size.value = -1
            return
        memoryview(self._handed).cast("B")[: len(data)] = data
        self._handed_size.value = len(data)

    def handed(self) -> dict[int, Written] | None:
        """What the chunk before handed on (read in one's turn); None when it was too large."""
        size = self._handed_size.value
        if size < 0:
            return None
        return pickle.loads(memoryview(self._handed).cast("B")[:size]) if size else {}

    @property
    def written(self) -> int:
        """How many chunks are written (those before this index)."""
        return self._next.value

    def stop(self) -> None:
        with self._changed:
            self._next.value = STOPPED
            self._changed.notify_all()

    @property
    def stopped(self) -> bool:
        return self._next.value == STOPPED


def in_workers(job) -> bool:
    remaining = job.total_rows - job.rows_read
    several = settings.LEADLOOP_IMPORT_PROCESSES > 1
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()  # one per process
    return several and not in_memory and remaining >= PARALLEL_FROM_ROWS


def chunks_in_workers(job, chunks: Iterator[list]) -> None:
    """Capture the chunks in LEADLOOP_IMPORT_PROCESSES processes. When reading the chunks
    fails, those handed out are still stored and what reading raised is raised; when a process
    fails, the others stop at once and Stopped is raised. Returns once every process ended."""
    context = multiprocessing.get_context("spawn")
    count = settings.LEADLOOP_IMPORT_PROCESSES
    tasks, turns = context.Queue(count), Turns(context)
    databases = {"default": dict(connection.settings_dict)}
    args = (databases, HUEY.immediate, job.pk, tasks, turns)
    workers = [context.Process(target=_work, args=args, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        for index, pending in enumerate(chunks):
            if not _hand_over(tasks, (index, pending), turns, workers):
                break
    finally:
        for _worker in workers:
            _hand_over(tasks, None, turns, workers)
        for worker in workers:
            worker.join()
        _drain(tasks)
        tasks.close()
        tasks.join_thread()
    if turns.stopped or any(worker.exitcode for worker in workers):
        raise Stopped("a process of the import failed")


def _hand_over(tasks, task, turns: Turns, workers: list) -> bool:
    """Queue the task; False when the processes stopped (a failure, or Ctrl-C) before."""
    while not turns.stopped and any(worker.is_alive() for worker in workers):
        try:
            tasks.put(task, timeout=POLL_S)
            return True
        except Full:
            continue
    return False


def _drain(tasks) -> None:
    """Take what no process took (after a failure or Ctrl-C): the queue's feeding thread can
    then flush and end, instead of keeping this process from exiting."""
    try:
        while True:
            tasks.get(timeout=0.1)
    except Empty:
        return


def _work(databases: dict, immediate: bool, import_id: int, tasks, turns: Turns) -> None:
    """One process: chunks from `tasks` until None, each written in its turn. Whatever fails
    here, from starting Django on, stops the other processes."""
    try:
        _setup(databases, immediate)
        _capture(import_id, tasks, turns)
    except Stopped:
        return
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent stops too
        turns.stop()
    except BaseException:
        log.exception("import %s stopped in one of its processes", import_id)
        turns.stop()
        raise


def _capture(import_id: int, tasks, turns: Turns) -> None:
    from django.utils import translation

    from leadloop.intake import imports
    from leadloop.intake.models import Import

    job = Import.objects.select_related("workspace", "created_by").get(pk=import_id)
    capture = imports.ChunkCapture(job)
    with translation.override(job.language or None), imports.checkpoints_spaced():
        while (task := _next_task(tasks, turns)) is not None:
            index, pending = task
            turn = ChunkTurn(turns, index)
            capture(pending, turn=turn)
            turn.pass_on()


class ChunkTurn:
    """One chunk's turn (an `intake.turns.Turn`): what the chunks before it wrote since
    a stamp, from their hand-over; what it writes, handed on with the turn."""

    def __init__(self, turns: Turns, index: int):
        self.turns, self.index = turns, index
        self.ahead: dict[int, Written] | None = None
        self.taken = False
        self.mine = Written()

    def wait(self) -> None:
        if not self.taken:
            with _reading_ended_then_write_lock():
                self.turns.wait(self.index)
            self.ahead, self.taken = self.turns.handed(), True

    def stamp(self) -> int:
        return self.turns.written

    def written_since(self, stamp: int) -> Written | None:
        since = range(stamp, self.index)
        if self.ahead is None or any(index not in self.ahead for index in since):
            return None
        written = Written()
        for index in since:
            written.update(self.ahead[index])
        return written

    def wrote(self, written: Written) -> None:
        self.mine.update(written)

    def pass_on(self) -> None:
        kept = {i: w for i, w in (self.ahead or {}).items() if i > self.index - HANDED_ON}
        self.turns.pass_on(self.index, handing={**kept, self.index: self.mine})


@contextmanager
def _reading_ended_then_write_lock() -> Iterator[None]:
    """SQLite: a chunk plans in a deferred transaction, which only reads, so that it waits for
    nobody; but that transaction could not write once another committed after its reading.
    Having written nothing, the chunk ends it before it waits for its turn (no snapshot held
    meanwhile, so the write-ahead log can be copied into the file and started again), then
    takes the write lock in a new one, with the savepoints Django holds. What was written
    since its reading it learns from the hand-over (past it, from the unique constraints)."""
    if connection.vendor != "sqlite" or not connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("COMMIT")
    yield
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            for sid in filter(None, connection.savepoint_ids):
                cursor.execute(connection.ops.savepoint_create_sql(sid))
    except DatabaseError as exc:  # another writer kept the lock past the timeout
        connection.needs_rollback = True  # no statement of this transaction may run now
        raise WriteLockMissed("the import's turn could not take SQLite's write lock") from exc


def _next_task(tasks, turns: Turns):
    while not turns.stopped:
        try:
            return tasks.get(timeout=POLL_S)
        except Empty:
            continue
    return None


def _setup(databases: dict, immediate: bool) -> None:
    """Django as in the parent: its database (a test database under pytest), its task queue."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.config.settings")
    import django

    if databases["default"]["ENGINE"] == "django.db.backends.sqlite3":
        options = databases["default"]["OPTIONS"]
        databases["default"]["OPTIONS"] = {**options, "transaction_mode": "DEFERRED"}
    settings.DATABASES = databases
    django.setup()
    HUEY.immediate = immediate
