"""Lead export (CSV and XLSX) of a filtered lead list, shared by the lead list page and the API.

Cells that a spreadsheet would run as a formula (starting with = + - @ tab or CR) get a leading
apostrophe. The phone column holds the E.164 number (`+84912345678`): a plus and digits only,
which no spreadsheet runs, so it is written as is (XLSX: a text cell, so it keeps its plus and
leading zeros); a number that did not parse is written raw, escaped like any other cell. The
leads' own fields follow the standard columns, one `fields.<key>` column per key.

The API's export names its columns and values by their keys (`stage`: `k3`, `is_open`: `True`,
`created_at`: ISO 8601), for programs; the lead list page's export is for people: the columns
and values by their names in the page's language (Stage: "K3 – Hẹn gọi lại", Open: Có), the
creation time as the workspace's clock shows it (a date cell in XLSX), a field under its own
name."""

import csv
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
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


LABELS = {  # the page's export: the standard columns by name
    "id": gettext_lazy("Lead"),
    "created_at": gettext_lazy("Created"),
    "full_name": gettext_lazy("Full name"),
    "phone": gettext_lazy("Phone"),
    "phone_valid": gettext_lazy("Phone valid"),
    "email": gettext_lazy("E-mail"),
    "email_valid": gettext_lazy("E-mail valid"),
    "source": gettext_lazy("Source"),
    "campaign": gettext_lazy("Campaign"),
    "stage": gettext_lazy("Stage"),
    "owner": gettext_lazy("Owner"),
    "is_open": pgettext_lazy("a lead is", "Open"),
    "returning": gettext_lazy("Returning"),
    "is_test": gettext_lazy("Test"),
    "note": gettext_lazy("Note"),
}
XLSX_MOMENT = "dd/mm/yyyy hh:mm"


@dataclass(frozen=True)
class _Sheet:
    """How the export's cells read: by key for programs, or by name for people."""

    keys: list[str]  # of the leads' own fields
    readable: bool
    moment: Callable[[datetime], object]  # the creation time's cell

    @classmethod
    def of(cls, tz: ZoneInfo, keys: list[str], readable: bool, fmt: str) -> "_Sheet":
        if not readable:
            return cls(keys, False, lambda at: at.astimezone(tz).isoformat())
        if fmt == "xlsx":  # a date cell: Excel sorts and filters it as a date
            return cls(keys, True, lambda at: _local(at, tz))
        return cls(keys, True, lambda at: f"{at.astimezone(tz):%d/%m/%Y %H:%M}")

    def header(self) -> list[str]:
        if not self.readable:
            return [*COLUMNS, *(f"fields.{key}" for key in self.keys)]  # "f…": never a formula
        standard = [str(LABELS.get(name, name)) for name in COLUMNS]
        taken = {name.casefold() for name in standard}
        field = _("%(name)s (field)")  # a field named like a standard column: told apart
        return standard + [
            safe(field % {"name": key} if key.casefold() in taken else key) for key in self.keys
        ]

    def named(self, thing, key: str) -> str:
        """A source's, campaign's or stage's cell: its key, or its name."""
        return "" if thing is None else (thing.name if self.readable else getattr(thing, key))

    def yes_no(self, value: bool):
        return (_("Yes") if value else _("No")) if self.readable else value


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    """The workspace's clock time, to the second: an Excel date cell has no time zone."""
    return at.astimezone(tz).replace(tzinfo=None, microsecond=0)


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


def row_of(lead: Lead, sheet: _Sheet) -> list:
    contact = lead.contact
    texts = [
        contact.full_name,
        contact.email,
        sheet.named(lead.source, "key"),
        sheet.named(lead.campaign, "key"),
        sheet.named(lead.stage, "key"),
        getattr(lead.owner, "full_name", ""),
    ]
    utm = [lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.utm_content, lead.utm_term]
    name, email, source, campaign, stage, owner = (safe(t) for t in texts)
    return [
        lead.pk,
        sheet.moment(lead.created_at),
        name,
        _phone(lead),
        sheet.yes_no(contact.phone_valid),
        email,
        sheet.yes_no(contact.email_valid),
        source,
        campaign,
        stage,
        owner,
        sheet.yes_no(lead.is_open),
        sheet.yes_no(lead.returning),
        sheet.yes_no(lead.is_test),
        *(safe(u) for u in utm),
        safe(lead.note),
        *(_field_cell(lead.fields.get(key)) for key in sheet.keys),
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


def _xlsx_cell(sheet, value):
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = XLSX_MOMENT
        return cell
    return value


def _xlsx_file(leads, sheet: _Sheet):
    book = Workbook(write_only=True)
    page = book.create_sheet(_("Leads") if sheet.readable else "Leads")
    page.append([_xlsx_cell(page, name) for name in sheet.header()])
    for lead in leads.iterator(chunk_size=2000):
        page.append([_xlsx_cell(page, value) for value in row_of(lead, sheet)])
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    book.save(out)
    out.seek(0)
    return out


def export_response(
    *, workspace: Workspace, actor: Actor, filters: LeadFilter, fmt: str, readable: bool = False
):
    """The leads the actor's list shows for `filters`, as a CSV stream or an XLSX file; with
    `readable`, by the names people read (the page's export), else by keys."""
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
    tz = ZoneInfo(workspace.time_zone)
    sheet = _Sheet.of(tz, field_keys(leads), readable, fmt)
    name = f"leads-{clock.now().astimezone(tz):%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        rows = (row_of(lead, sheet) for lead in leads.iterator(chunk_size=2000))
        response = StreamingHttpResponse(
            csv_lines(sheet.header(), rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(
        _xlsx_file(leads, sheet),
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
