"""Lead export (CSV and XLSX) of a filtered lead list, shared by the lead list page and the API.

Cells that a spreadsheet would run as a formula (starting with = + - @ tab or CR) get a leading
apostrophe. The phone column holds the E.164 number (`+84912345678`): a plus and digits only,
which no spreadsheet runs, so it is written as is (XLSX: a text cell, so it keeps its plus and
leading zeros); a number that did not parse is written raw, escaped like any other cell. The
leads' own fields follow the standard columns, one `fields.<key>` column per key."""

import csv
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Workspace
from leadloop.core.services import audit_record
from leadloop.pipeline.models import Lead
from leadloop.pipeline.selectors import LeadFilter, lead_list

FORMATS = ("csv", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"\+[1-9]\d{5,14}")
MAX_XLSX_ROWS = 1_048_575  # Excel's sheet size, less the header
MAX_FIELD_COLUMNS = 500  # of the leads' own fields, after the standard columns
COLUMNS = [
    "id", "created_at", "full_name", "phone", "phone_valid", "email", "email_valid", "source",
    "campaign", "stage", "owner", "is_open", "returning", "is_test", "utm_source", "utm_medium",
    "utm_campaign", "utm_content", "utm_term", "note",
]  # fmt: skip


def safe(value):
    """A cell value no spreadsheet runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _phone(lead: Lead) -> str:
    contact = lead.contact
    return contact.phone_e164 if E164.fullmatch(contact.phone_e164) else safe(contact.phone_raw)


def field_keys(leads: QuerySet[Lead]) -> list[str]:
    """The keys of the leads' own fields (from forms, imports, providers), sorted: one column
    each after the standard ones, so an export loses none of them."""
    sql, params = leads.order_by().values("fields").query.sql_with_params()
    each = (
        "jsonb_object_keys(s.fields)"
        if connection.vendor == "postgresql"
        else "json_each(s.fields)"
    )
    key = "k" if connection.vendor == "postgresql" else "k.key"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {key} FROM ({sql}) s, {each} k", params)
        return sorted(row[0] for row in cursor.fetchall())[:MAX_FIELD_COLUMNS]


def _field_cell(value):
    if value is None or isinstance(value, (dict, list)):
        return "" if value is None else json.dumps(value, ensure_ascii=False)
    return safe(value)


def row_of(lead: Lead, tz: ZoneInfo, keys: list[str]) -> list:
    contact = lead.contact
    texts = [
        contact.full_name,
        contact.email,
        getattr(lead.source, "key", ""),
        getattr(lead.campaign, "key", ""),
        lead.stage.key,
        getattr(lead.owner, "full_name", ""),
    ]
    utm = [lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.utm_content, lead.utm_term]
    name, email, source, campaign, stage, owner = (safe(t) for t in texts)
    return [
        lead.pk,
        lead.created_at.astimezone(tz).isoformat(),
        name,
        _phone(lead),
        contact.phone_valid,
        email,
        contact.email_valid,
        source,
        campaign,
        stage,
        owner,
        lead.is_open,
        lead.returning,
        lead.is_test,
        *(safe(u) for u in utm),
        safe(lead.note),
        *(_field_cell(lead.fields.get(key)) for key in keys),
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """A CSV's lines as Excel reads them: the BOM first (then it reads the Vietnamese as UTF-8);
    the cells must be `safe` already."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def _header(keys: list[str]) -> list[str]:
    return [*COLUMNS, *(f"fields.{key}" for key in keys)]  # "f…": never run as a formula


def _xlsx_file(leads, tz: ZoneInfo, keys: list[str]):
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append([ILLEGAL_CHARACTERS_RE.sub("", name) for name in _header(keys)])
    for lead in leads.iterator(chunk_size=2000):
        sheet.append(
            [
                ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v
                for v in row_of(lead, tz, keys)
            ]
        )
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    book.save(out)
    out.seek(0)
    return out


def export_response(*, workspace: Workspace, actor: Actor, filters: LeadFilter, fmt: str):
    """The leads the actor's list shows for `filters`, as a CSV stream or an XLSX file."""
    if fmt not in FORMATS:
        raise ValidationFailed(_("The format is csv or xlsx."), fields={"format": [fmt]})
    leads = lead_list(workspace=workspace, fetched_by=actor, filters=filters)
    if fmt == "xlsx" and leads.count() > MAX_XLSX_ROWS:
        raise ValidationFailed(
            _("Too many leads for one XLSX sheet; export CSV or narrow the filters."),
            fields={"format": [fmt]},
        )
    audit_record(
        actor=actor, action="lead.export", obj=workspace, data={"format": fmt, **filters.as_query()}
    )
    tz, keys = ZoneInfo(workspace.time_zone), field_keys(leads)
    name = f"leads-{clock.now().astimezone(tz):%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        rows = (row_of(lead, tz, keys) for lead in leads.iterator(chunk_size=2000))
        response = StreamingHttpResponse(
            csv_lines(_header(keys), rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(
        _xlsx_file(leads, tz, keys),
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
