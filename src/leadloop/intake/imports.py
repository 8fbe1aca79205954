"""Lead import from CSV and XLSX files: open a file, map its columns, run it through the capture
engine in chunks, count and report. Writes and reads of imports live here, apart from the engine
in intake/services.py.

Each row gets a stable external id, a hash of its cleaned cells: importing the same list twice
makes no second touch (and the engine's phone/e-mail de-duplication no second contact or lead).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy

from leadloop.contacts.normalize import fold
from leadloop.contacts.services import Identity
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ApplicationError, NotFound, ValidationFailed
from leadloop.core.models import Member, Workspace
from leadloop.core.services import audit_record
from leadloop.intake.import_workers import chunks_in_workers, in_workers
from leadloop.intake.models import Import, ImportProblem, Touch
from leadloop.intake.services import Captured, Submission, leads_capture
from leadloop.intake.sheets import (
    MAX_CELL,
    FileRefused,
    Layout,
    detect,
    headers_of,
    is_blank,
    read,
    sheet_names,
)
from leadloop.intake.turns import Turn
from leadloop.notifications.models import Notification
from leadloop.notifications.services import notification_new, notifications_publish

log = logging.getLogger(__name__)

CHUNK = 1000  # rows per capture-engine call
CHECKPOINT_PAGES = 16384  # SQLite: an import's write-ahead log grows to 64 MB between copies
PREVIEW_ROWS = 10
DEFAULT_SOURCE = "import"
TARGETS = {
    "full_name": gettext_lazy("Name"),
    "phone": gettext_lazy("Phone"),
    "email": gettext_lazy("E-mail"),
    "source": gettext_lazy("Source"),
    "campaign": gettext_lazy("Campaign"),
    "note": gettext_lazy("Note"),
    "field": gettext_lazy("Keep as a lead field"),
    "": gettext_lazy("Ignore"),
}
JOINED = ("full_name", "note")  # several columns are joined ("Họ" + "Tên"); others: the first
ALIASES = {
    "full_name": "ho ten|ho va ten|ho|ten|ten khach hang|khach hang|ho ten khach hang|ten day du|"
    "ten khach|khach|ten kh|ho ten kh|"
    "name|full name|fullname|first name|last name|customer|customer name|contact name",
    "phone": "so dien thoai|sdt|so dt|dien thoai|dt|di dong|so di dong|dien thoai di dong|"
    "phone|phone number|mobile|mobile phone|tel|telephone|cell",
    "email": "email|e mail|mail|thu dien tu|dia chi email|email address",
    "source": "nguon|nguon khach|nguon khach hang|kenh|source|lead source|channel",
    "campaign": "chien dich|campaign|utm campaign",
    "note": "ghi chu|note|notes|comment|comments|noi dung|message",
}
SUGGESTIONS = {alias: target for target, names in ALIASES.items() for alias in names.split("|")}
# a column whose name holds one of these words is a phone or e-mail ("Email công ty",
# "Phone/Điện thoại"); "dt" is left out: it also means area (diện tích) or revenue (doanh thu)
WITHIN = [
    (f" {alias} ", target)
    for target in ("phone", "email")
    for alias in ALIASES[target].split("|")
    if len(alias) >= 3
]


def _importer(actor: Actor) -> None:
    actor.require(actor.imports_leads, _("Your role does not allow importing leads."))


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", fold(header)).strip()


def _within(key: str) -> str:
    return next((target for words, target in WITHIN if words in f" {key} "), "field")


def mapping_suggest(headers: list[str]) -> list[str]:
    """A target per column from its Vietnamese or English name; unknown columns are kept as
    lead fields. Only the first phone, e-mail, source and campaign column is taken as such. A
    name that only holds a phone or e-mail word counts after the exact names: "Email" wins
    over "Đồng ý nhận email" wherever each stands."""
    keys = [_header_key(header) for header in headers]
    mapping: list[str | None] = [SUGGESTIONS.get(key) for key in keys]
    taken = set()
    for n in sorted(range(len(keys)), key=lambda n: mapping[n] is None):  # exact names first
        target = mapping[n] or _within(keys[n])
        mapping[n] = "field" if target in taken and target not in JOINED else target
        taken.add(mapping[n])
    return mapping


# ---- opening a file


def _refuse_too_large(size: int, limit: int) -> None:
    if size > limit:
        raise FileRefused(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": -(-size // 2**20), "limit": limit // 2**20},
            code="import_file_too_large",
        )


def _analyse(path: Path, layout: Layout) -> tuple[list[str], int]:
    """The column names and the number of data rows; refuses empty, header-only, too long files."""
    rows = read(path, layout)
    header = next((row for row in rows if not is_blank(row)), None)
    if header is None:
        raise FileRefused(_("The file is empty."), code="import_file_empty")
    limit, count = settings.LEADLOOP_IMPORT_MAX_ROWS, 0
    for row in rows:
        if not is_blank(row):
            count += 1
            if count > limit:
                raise FileRefused(
                    _("The file has more than %(limit)s rows; split it into smaller files.")
                    % {"limit": f"{limit:,}"},
                    code="import_too_many_rows",
                )
    if not count:
        raise FileRefused(
            _("The file has a header row but no data rows."), code="import_file_no_rows"
        )
    return headers_of(header), count


def _origin(origin: str) -> str:
    origin = (origin or "").strip()
    if not origin or len(origin) > 2000:
        message = _("Say where this list came from (at most 2,000 characters).")
        raise ValidationFailed(message, fields={"origin": [message]})
    return origin


def _laid_out(job: Import, layout: Layout) -> None:
    headers, count = _analyse(Path(job.file_path), layout)
    job.format, job.encoding, job.delimiter = layout.format, layout.encoding, layout.delimiter
    job.sheet, job.headers, job.total_rows = layout.sheet, headers, count
    job.mapping = mapping_suggest(headers)


@transaction.atomic
def import_open(
    *,
    workspace: Workspace,
    actor: Actor,
    path: Path,
    file_name: str,
    origin: str,
    encoding: str = "",
    delimiter: str = "",
    sheet: str = "",
) -> Import:
    """An import of the file at `path` (kept where it is), read and counted, waiting for its
    mapping. Refuses a file it cannot read (FileRefused) before anything is stored."""
    _importer(actor)
    origin = _origin(origin)
    if not path.is_file():
        raise FileRefused(_("The file cannot be opened."))
    size = path.stat().st_size
    _refuse_too_large(size, settings.LEADLOOP_IMPORT_MAX_FILE_BYTES)
    job = Import(
        workspace=workspace,
        created_by=actor.member,
        origin=origin,
        file_name=file_name[:255],
        file_path=str(path),
        file_size=size,
        created_at=clock.now(),
    )
    _laid_out(job, detect(path, encoding=encoding, delimiter=delimiter, sheet=sheet))
    job.save()
    audit_record(
        actor=actor, action="import.open", obj=job, data={"file": job.file_name, "origin": origin}
    )
    return job


def import_upload(*, workspace: Workspace, actor: Actor, upload, origin: str) -> Import:
    """An uploaded file (Django's UploadedFile) stored under VAR_DIR/imports, then opened."""
    _importer(actor)
    _refuse_too_large(upload.size, settings.LEADLOOP_IMPORT_MAX_UPLOAD_BYTES)
    folder = Path(settings.VAR_DIR) / "imports" / str(workspace.pk)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()[:10]}"
    with path.open("wb") as f:
        for chunk in upload.chunks():
            f.write(chunk)
    try:
        return import_open(
            workspace=workspace, actor=actor, path=path, file_name=upload.name, origin=origin
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise


def _draft(job: Import) -> None:
    """Refuse an import that has started; its status is read again under a lock, so that a
    start and a discard sent at once do not both go ahead (call inside a transaction)."""
    status = Import.objects.select_for_update().filter(pk=job.pk).values_list("status", flat=True)
    job.status = status.first()
    if job.status is None:  # discarded meanwhile
        raise NotFound(_("No such import."))
    if job.status != Import.Status.DRAFT:
        raise ValidationFailed(_("This import has already started."), code="import_started")


@transaction.atomic
def import_discard(*, job: Import, actor: Actor) -> None:
    """Drop an import that has not started, with the file uploaded for it (a file the CLI
    named stays where it is)."""
    _importer(actor)
    _draft(job)
    uploaded = Path(job.file_path).is_relative_to(Path(settings.VAR_DIR) / "imports")
    audit_record(actor=actor, action="import.discard", obj=job, data={"file": job.file_name})
    job.delete()
    if uploaded:
        transaction.on_commit(lambda: Path(job.file_path).unlink(missing_ok=True))


@transaction.atomic
def import_relayout(
    *, job: Import, actor: Actor, encoding: str = "", delimiter: str = "", sheet: str = ""
) -> Import:
    """Read the file again with another encoding, delimiter or sheet; the mapping is suggested
    anew for the columns found."""
    _importer(actor)
    _draft(job)
    _laid_out(job, detect(Path(job.file_path), encoding=encoding, delimiter=delimiter, sheet=sheet))
    job.save()
    return job


def import_sheets(job: Import) -> list[str]:
    return sheet_names(Path(job.file_path)) if job.format == "xlsx" else []


# ---- mapping rows to submissions


@dataclass(frozen=True)
class Problem:
    column: str
    reason: str


class _Rows:
    """Turns a row of cells into a submission with the import's mapping and defaults."""

    def __init__(self, job: Import):
        self.columns = list(zip(job.headers, job.mapping, strict=True))
        self.source, self.campaign = job.source or DEFAULT_SOURCE, job.campaign
        self.labels = {
            target: " / ".join(h for h, t in self.columns if t == target) or str(TARGETS[target])
            for target in ("phone", "email")
        }

    def submission(self, cells: list[str]) -> tuple[Submission, dict] | Problem:
        raw, picked, fields = {}, {}, {}
        for (header, target), value in zip(self.columns, cells, strict=False):
            if not value:
                continue
            if len(value) > MAX_CELL:
                return Problem(header, _("Longer than %(n)s characters.") % {"n": MAX_CELL})
            raw[header] = value
            if target == "field":
                fields[header] = value
            elif target in JOINED:
                picked.setdefault(target, []).append(value)
            elif target:
                picked.setdefault(target, value)
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        return Submission(
            full_name=" ".join(picked.get("full_name", []))[:200],
            phone=picked.get("phone", "")[:64],
            email=picked.get("email", "")[:254],
            source=picked.get("source", self.source)[:100],
            campaign=picked.get("campaign", self.campaign)[:200],
            external_id=f"row-{digest[:40]}",
            note="\n".join(picked.get("note", [])),
            fields=fields,
        ), raw

    def problem(self, exc) -> Problem:
        columns = [self.labels[name] for name in ("phone", "email") if name in exc.fields]
        return Problem(" / ".join(columns), exc.message)


def _data_rows(job: Import) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) of the data rows after the header."""
    layout = Layout(job.format, job.encoding, job.delimiter, job.sheet)
    header_seen = False
    for number, cells in enumerate(read(Path(job.file_path), layout), start=1):
        if is_blank(cells):
            continue
        if header_seen:
            yield number, cells
        header_seen = True


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: list[str]
    issues: list[str]
    problem: Problem | None


def import_preview(*, job: Import, mapping: list[str] | None = None) -> list[PreviewRow]:
    """The first rows as they would be read, with the data-quality issues found; writes nothing."""
    if mapping is not None:
        job = Import(headers=job.headers, mapping=mapping, **_layout_fields(job))
    rows, preview = _Rows(job), []
    for number, cells in _data_rows(job):
        built = rows.submission(cells)
        issues, problem = [], built if isinstance(built, Problem) else None
        if problem is None:
            sub = built[0]
            who = Identity.clean(name=sub.full_name, phone=sub.phone, email=sub.email)
            issues = who.quality()["issues"]
            if not who.has_channel:
                problem = Problem(
                    f"{rows.labels['phone']} / {rows.labels['email']}",
                    _("Give a phone number or an e-mail address."),
                )
        preview.append(PreviewRow(number, cells, issues, problem))
        if len(preview) == PREVIEW_ROWS:
            break
    return preview


def _layout_fields(job: Import) -> dict:
    names = ("format", "encoding", "delimiter", "sheet", "file_path", "source", "campaign")
    return {name: getattr(job, name) for name in names}


def mapping_override(job: Import, overrides: dict[str, str]) -> list[str]:
    """The suggested mapping with some columns' targets replaced ("ignore" is accepted for "")."""
    mapping = list(job.mapping)
    for column, target in overrides.items():
        target = "" if target == "ignore" else target
        if column not in job.headers or target not in TARGETS:
            message = _("Unknown column or target: %(item)s. The columns are: %(columns)s.") % {
                "item": f"{column}={target}",
                "columns": ", ".join(job.headers),
            }
            raise ValidationFailed(message, code="import_mapping", fields={"mapping": [message]})
        mapping[job.headers.index(column)] = target
    return mapping


def _clean_mapping(job: Import, mapping: list[str]) -> list[str]:
    if len(mapping) != len(job.headers) or any(t not in TARGETS for t in mapping):
        raise ValidationFailed(_("Choose a target for every column."), fields={"mapping": []})
    if "phone" not in mapping and "email" not in mapping:
        message = _("Map a column to the phone or the e-mail: a lead needs one of them.")
        raise ValidationFailed(message, code="import_mapping", fields={"mapping": [message]})
    for target in ("phone", "email", "source", "campaign"):
        if mapping.count(target) > 1:
            message = _("Only one column can be %(target)s.") % {"target": TARGETS[target]}
            raise ValidationFailed(message, code="import_mapping", fields={"mapping": [message]})
    return mapping


@transaction.atomic
def import_confirm(
    *,
    job: Import,
    actor: Actor,
    mapping: list[str],
    source: str = "",
    campaign: str = "",
    background: bool = True,
) -> Import:
    """Fix the mapping and the defaults and queue the import on the worker (or leave it to the
    caller with background=False)."""
    _importer(actor)
    _draft(job)
    job.mapping = _clean_mapping(job, mapping)
    job.source, job.campaign = source.strip()[:100], campaign.strip()[:200]
    job.status, job.language = Import.Status.QUEUED, translation.get_language() or ""
    job.save(update_fields=["mapping", "source", "campaign", "status", "language"])
    audit_record(actor=actor, action="import.start", obj=job, data={"rows": job.total_rows})
    if background:
        from leadloop.intake.tasks import import_task

        transaction.on_commit(lambda: import_task(job.pk))
    return job


def import_submit(
    *,
    workspace: Workspace,
    actor: Actor,
    upload,
    origin: str,
    overrides: dict[str, str],
    source: str = "",
    campaign: str = "",
) -> Import:
    """Upload and start at once with the suggested mapping and `overrides` (the API); a refused
    mapping leaves neither an import nor its file behind."""
    with transaction.atomic():
        job = import_upload(workspace=workspace, actor=actor, upload=upload, origin=origin)
        try:
            mapping = mapping_override(job, overrides)
            return import_confirm(
                job=job, actor=actor, mapping=mapping, source=source, campaign=campaign
            )
        except ApplicationError:
            Path(job.file_path).unlink(missing_ok=True)
            raise


# ---- running


class ChunkCapture:
    """Stores an import's rows chunk after chunk, in file order, each chunk with its counts in
    one transaction: the counts always match what is stored, even when a run stops midway.
    One per process that runs the import (import_workers.py starts several)."""

    def __init__(self, job: Import):
        self.job, self.rows, self.actor = job, _Rows(job), _actor(job)

    def __call__(self, pending: list[tuple[int, list[str]]], turn: Turn | None = None) -> None:
        """Capture and count one chunk. With a `turn` (chunks written by several processes)
        the chunk is planned at once but written and counted in its turn."""
        job, problems, captures = self.job, [], []
        for number, cells in pending:
            built = self.rows.submission(cells)
            if isinstance(built, Problem):
                problems.append(ImportProblem(job=job, row=number, **built.__dict__))
            else:
                captures.append((number, built))
        with transaction.atomic():
            _commit_unflushed()
            outcomes = leads_capture(
                workspace=job.workspace,
                actor=self.actor,
                submissions=[built for _n, built in captures],
                kind=Touch.Kind.IMPORT,
                import_job=job,
                turn=turn,
            )
            if turn is not None:
                turn.wait()  # also for a chunk that stored no lead
                job.refresh_from_db(fields=COUNTS)  # as the chunk before left them
            problems += self._counted(captures, outcomes)
            ImportProblem.objects.bulk_create(problems)
            job.invalid += len(pending) - len(captures)
            job.rows_read += len(pending)
            job.progressed_at = clock.now()
            job.save(update_fields=[*COUNTS, "progressed_at"])

    def _counted(self, captures: list, outcomes: list) -> list[ImportProblem]:
        """Count the outcomes on the import; the problems of the rows that failed."""
        job, problems = self.job, []
        for (number, _built), outcome in zip(captures, outcomes, strict=True):
            if isinstance(outcome, Captured):
                _count(job, outcome)
                continue
            if isinstance(outcome, ValidationFailed):
                job.invalid += 1
            else:
                job.failed += 1
            problems.append(
                ImportProblem(job=job, row=number, **self.rows.problem(outcome).__dict__)
            )
        return problems


def _commit_unflushed() -> None:
    """PostgreSQL: the chunk's commit does not wait for the disk (it took ~15 ms a chunk, in
    the import's turn). A server crash can lose the last chunks committed, a fraction of a
    second of them, with their counts: the import is then resumed or started again after the
    last chunk kept, and no row is stored twice. The import's end waits for the disk as usual,
    and so for every chunk before it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


COUNTS = ["rows_read", "created", "merged", "invalid", "failed", "assigned"]


def _count(job: Import, outcome: Captured) -> None:
    if not outcome.created:
        job.merged += 1
        return
    job.created += 1
    if owner := outcome.lead.owner_id:
        job.assigned[str(owner)] = job.assigned.get(str(owner), 0) + 1


def _tell_owners(job: Import) -> None:
    """One notification for each rep the import gave leads to, instead of one per lead (a list
    of 100,000 rows would flood their screens and mailboxes)."""
    owners = Member.objects.filter(workspace=job.workspace, pk__in=[int(k) for k in job.assigned])
    message = ngettext_lazy(
        "%(count)s new lead for you from the import %(file)s",
        "%(count)s new leads for you from the import %(file)s",
        "count",
    )
    notes = [
        notification_new(
            member=member,
            kind="leads_imported",
            lead=None,
            message=message,
            params={"count": job.assigned[str(member.pk)], "file": job.file_name},
            count=job.assigned[str(member.pk)],
        )
        for member in owners.select_related("workspace")
    ]
    notifications_publish(Notification.objects.bulk_create(notes))


def _actor(job: Import) -> Actor:
    if job.created_by and job.created_by.active:
        return Actor.of(job.created_by)
    return Actor.system(job.workspace, f"import:{job.pk}")


def import_run(*, import_id: int) -> Import | None:
    """Run a queued import to its end (the worker's task; the CLI calls it directly). Safe to
    call twice: only a queued import is claimed."""
    now = clock.now()
    claimed = Import.objects.filter(pk=import_id, status=Import.Status.QUEUED).update(
        status=Import.Status.RUNNING,
        started_at=Coalesce("started_at", Value(now)),
        progressed_at=now,
    )
    job = Import.objects.select_related("workspace", "created_by").filter(pk=import_id).first()
    if not claimed or job is None:
        return job
    with translation.override(job.language or None):
        return _run(job)


STALLED_AFTER = timedelta(minutes=10)  # a running import without a stored chunk for this long


def imports_resume_stalled() -> int:
    """Queue again the imports whose worker stopped midway; each goes on after its last stored
    chunk (rows already stored are never stored twice: each row has its own external id)."""
    stalled = Import.objects.filter(
        status=Import.Status.RUNNING, progressed_at__lt=clock.now() - STALLED_AFTER
    )
    from leadloop.intake.tasks import import_task

    resumed = 0
    for pk in list(stalled.values_list("pk", flat=True)):
        if stalled.filter(pk=pk).update(status=Import.Status.QUEUED):
            log.warning("import %s stalled after its last chunk; resuming", pk)
            transaction.on_commit(partial(import_task, pk))
            resumed += 1
    return resumed


def _run(job: Import) -> Import:
    remaining = itertools.islice(_data_rows(job), job.rows_read, None)  # resume after those
    try:
        if in_workers(job):
            try:
                chunks_in_workers(job, _chunks(remaining))
            finally:
                job.refresh_from_db(fields=COUNTS)  # as the workers stored them
        else:
            capture = ChunkCapture(job)
            with checkpoints_spaced():
                for pending in _chunks(remaining):
                    capture(pending)
        job.status = Import.Status.DONE
    except FileRefused as exc:
        job.status, job.error = Import.Status.FAILED, exc.message
    except Exception:
        log.exception("import %s stopped", job.pk)
        job.refresh_from_db(fields=COUNTS)  # the failed chunk's counts went with its rows
        job.status = Import.Status.FAILED
        job.error = _(
            "The import stopped on an unexpected error after %(n)s rows. Import the same file "
            "again to add the rest: rows already stored are not stored twice."
        ) % {"n": job.rows_read}
    job.finished_at = clock.now()
    with transaction.atomic():
        job.save(update_fields=["status", "error", "finished_at"])
        _tell_owners(job)
    return job


@contextmanager
def checkpoints_spaced() -> Iterator[None]:
    """On SQLite, the import's connection copies its write-ahead log into the database file
    every CHECKPOINT_PAGES pages (64 MB) rather than every 1,000 (4 MB): the pages a chunk writes
    again and again (indexes, counters) are copied once per checkpoint, not once per chunk.
    For this connection and the import's length only: another that commits meanwhile still
    copies the log once it holds 1,000 pages."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(before)}")


def _chunks(rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
    while pending := list(itertools.islice(rows, CHUNK)):
        yield pending


# ---- reading


def import_get(*, workspace: Workspace, fetched_by: Actor, import_id: int) -> Import:
    _importer(fetched_by)
    job = Import.objects.filter(workspace=workspace, pk=import_id).first()
    if job is None:
        raise NotFound(_("No such import."))
    return job


def import_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Import]:
    _importer(fetched_by)
    return Import.objects.filter(workspace=workspace).select_related("created_by")


def import_problems(*, job: Import) -> QuerySet[ImportProblem]:
    return job.problems.order_by("row", "id")
