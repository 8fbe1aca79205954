"""`/api/v1/imports`: upload a CSV/XLSX list and follow its import."""

import json

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile

from leadloop.config.api import PageQuery, nul_refused, page_of
from leadloop.core.errors import ValidationFailed
from leadloop.intake.imports import import_get, import_problems, import_submit
from leadloop.intake.models import Import
from leadloop.pipeline.api import local

router = Router(tags=["imports"])


class ImportOut(Schema):
    id: int
    file_name: str
    origin: str
    status: str
    format: str
    encoding: str
    delimiter: str
    sheet: str
    headers: list[str]
    mapping: list[str]
    source: str
    campaign: str
    total_rows: int
    rows_read: int
    created: int
    merged: int
    invalid: int
    failed: int
    percent: int
    error: str
    created_at: str  # in the workspace's time zone, with its offset, as every answer
    finished_at: str | None

    @staticmethod
    def resolve_created_at(job: Import) -> str:
        return local(job, job.created_at)

    @staticmethod
    def resolve_finished_at(job: Import) -> str | None:
        return local(job, job.finished_at)


class ProblemOut(Schema):
    row: int
    column: str
    reason: str


class ProblemPage(Schema):
    items: list[ProblemOut]
    total: int
    page: int
    page_size: int


def _overrides(mapping: str) -> dict[str, str]:
    try:
        overrides = json.loads(mapping or "{}")
    except (ValueError, RecursionError):
        overrides = None
    if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
        message = _('mapping: a JSON object {"column": "target"}.')
        raise ValidationFailed(message, fields={"mapping": [message]})
    return overrides


@router.post("/imports", response={201: ImportOut})
def create_import(
    request: HttpRequest,
    file: File[UploadedFile],
    origin: Form[str],
    source: Form[str] = "",
    campaign: Form[str] = "",
    mapping: Form[str] = "",
):
    """Upload a file and start its import with the suggested column mapping, changed by
    `mapping` (a JSON object column → target). Follow it with GET /imports/{id}."""
    actor = request.auth
    nul_refused({"origin": origin, "source": source, "campaign": campaign, "mapping": mapping})
    job = import_submit(
        workspace=actor.workspace,
        actor=actor,
        upload=file,
        origin=origin,
        overrides=_overrides(mapping),
        source=source,
        campaign=campaign,
    )
    return Status(201, job)


def _job(request: HttpRequest, import_id: int) -> Import:
    actor = request.auth
    return import_get(workspace=actor.workspace, fetched_by=actor, import_id=import_id)


@router.get("/imports/{import_id}", response=ImportOut)
def get_import(request: HttpRequest, import_id: int):
    return _job(request, import_id)


@router.get("/imports/{import_id}/errors", response=ProblemPage)
def list_import_errors(request: HttpRequest, import_id: int, query: Query[PageQuery]):
    job = _job(request, import_id)
    return page_of(import_problems(job=job), query)
