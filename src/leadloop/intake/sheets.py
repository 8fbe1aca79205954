"""Read a CSV or XLSX file as rows of text, streaming: detect the format, the encoding, the
delimiter; refuse what cannot be read (encrypted, corrupt, zip bombs, not a table) with a clear
message. Nothing here touches the database."""

from __future__ import annotations

import codecs
import csv
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from charset_normalizer import from_bytes
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadloop.core.errors import ValidationFailed

SAMPLE_BYTES = 64 * 1024
MAX_CELL = 2000  # characters kept of one cell, as for website forms
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": gettext_lazy("UTF-8 with BOM"),
    "utf-16": "UTF-16 (BOM)",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1258": gettext_lazy("Windows-1258 (Vietnamese)"),
    "cp1252": gettext_lazy("Windows-1252 (Western)"),
}
DELIMITERS = {",": gettext_lazy("Comma"), ";": gettext_lazy("Semicolon"), "\t": gettext_lazy("Tab")}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and old .xls files
ZIP = b"PK\x03\x04"
VIETNAMESE = set("ăđơưĂĐƠƯ\u0300\u0301\u0303\u0309\u0323")  # cp1258's own letters and tones
BINARY = {chr(c) for c in range(1, 32)} - set("\t\n\r\x0c")  # control characters, NUL apart


class FileRefused(ValidationFailed):
    code = "import_file_refused"

    def __init__(self, message: str, *, code: str = "import_file_refused"):
        super().__init__(message, code=code, fields={"file": [message]})


@dataclass(frozen=True)
class Layout:
    """How to read a file: its format, and the encoding and delimiter or the sheet."""

    format: str  # "csv" | "xlsx"
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


def detect(path: Path, *, encoding: str = "", delimiter: str = "", sheet: str = "") -> Layout:
    """The layout of the file, with the caller's choices where given."""
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    if not head.strip():
        raise FileRefused(_("The file is empty."), code="import_file_empty")
    if head.startswith(OLE2):
        raise FileRefused(
            _(
                "The file is password-protected or an old Excel (.xls) file. "
                "Remove the password and save it as .xlsx or CSV."
            ),
            code="import_file_encrypted",
        )
    if head.startswith(ZIP):
        return Layout("xlsx", sheet=_pick_sheet(path, sheet))
    if encoding and encoding not in ENCODINGS:
        raise FileRefused(_("Unknown encoding."))
    if delimiter and delimiter not in DELIMITERS:
        raise FileRefused(_("Unknown delimiter."))
    encoding = encoding or _encoding(head)
    text = _decode_sample(head, encoding)
    if not text.strip("\ufeff\r\n\t ") or _looks_binary(text):
        raise FileRefused(_("This is not a CSV or Excel (.xlsx) file."), code="import_not_a_table")
    return Layout("csv", encoding=encoding, delimiter=delimiter or _delimiter(text))


def _looks_binary(text: str) -> bool:
    """Control characters no table holds, or NULs past a stray few (those are dropped as the
    rows are read)."""
    return bool(BINARY.intersection(text)) or not _stray_nuls(text)


def _stray_nuls(sample: str | bytes) -> bool:
    """No more NULs than a stray few: UTF-16 and binary files have them everywhere."""
    nul = "\0" if isinstance(sample, str) else b"\0"
    return sample.count(nul) <= max(2, len(sample) // 100)


def _encoding(head: bytes) -> str:
    """BOMs first; then charset-normalizer; among single-byte guesses, cp1258 when the text has
    Vietnamese letters, else cp1252 when it decodes (Excel's two Windows code pages)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    whole = len(head) == SAMPLE_BYTES
    if _stray_nuls(head):  # not UTF-16 without its mark: read the text around them
        head = head.replace(b"\x00", b"")
    if whole and b"\x00" not in head:  # whole lines: no cut character
        head = head[: head.rfind(b"\n") + 1] or head
    best = from_bytes(head).best()
    guess = best.encoding if best else ""
    if guess in ("utf_8", "ascii"):
        return "utf-8"
    if guess.startswith("utf_16"):
        return "utf-16-be" if guess.endswith("be") else "utf-16-le"
    for codepage in ("cp1258", "cp1252"):
        try:
            text = head.decode(codepage)
        except UnicodeDecodeError:
            continue
        if codepage == "cp1252" or VIETNAMESE.intersection(text):
            return codepage
    raise FileRefused(_("This is not a CSV or Excel (.xlsx) file."), code="import_not_a_table")


def _decode_sample(head: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(head, final=len(head) < SAMPLE_BYTES)
    except UnicodeError:  # also UTF-16 chosen for a file without its byte-order mark
        raise FileRefused(
            _("The file cannot be read as %(encoding)s: choose another encoding.")
            % {"encoding": ENCODINGS[encoding]},
            code="import_bad_encoding",
        ) from None


def _delimiter(text: str) -> str:
    """The delimiter used most in the header line (comma on a tie)."""
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    return max(DELIMITERS, key=lambda d: (header.count(d), d == ","))


# ---- XLSX


def _check_zip(path: Path) -> None:
    limit = settings.LEADLOOP_IMPORT_MAX_UNZIPPED_BYTES
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise FileRefused(_("The Excel file is damaged."), code="import_file_corrupt") from None
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members) or 1
    ratio = settings.LEADLOOP_IMPORT_MAX_ZIP_RATIO
    if total > limit:
        raise FileRefused(
            _("The Excel file unpacks to too much data (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": total // 2**20, "limit": limit // 2**20},
            code="import_zip_bomb",
        )
    if total / packed > ratio:
        raise FileRefused(
            _(
                "The Excel file unpacks to %(times)s times its size; a real sheet does not "
                "exceed %(ratio)s. Save it again in Excel, or as CSV."
            )
            % {"times": int(total / packed), "ratio": ratio},
            code="import_zip_bomb",
        )


@contextmanager
def _workbook(path: Path):
    """The workbook in read-only (streaming) mode, whatever the file's extension."""
    from openpyxl import load_workbook

    _check_zip(path)
    with path.open("rb") as f:
        try:
            workbook = load_workbook(f, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds on a damaged file
            raise FileRefused(_("The Excel file is damaged."), code="import_file_corrupt") from None
        try:
            yield workbook
        finally:
            workbook.close()


def sheet_names(path: Path) -> list[str]:
    with _workbook(path) as workbook:
        return list(workbook.sheetnames)


def _pick_sheet(path: Path, wanted: str) -> str:
    names = sheet_names(path)
    if not names:
        raise FileRefused(_("The Excel file has no sheet."), code="import_file_empty")
    if wanted and wanted not in names:
        raise FileRefused(_("The Excel file has no sheet named %(sheet)s.") % {"sheet": wanted})
    return wanted or names[0]


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed as numbers: 912345678.0
    if isinstance(value, datetime | date | time):
        return _written_date(value)
    return str(value)


def _written_date(value: datetime | date | time) -> str:
    """A date or time cell as it is written in Vietnam (and in LeadLoop's pages): 17/05/1990,
    17/05/1990 08:30, 08:30; a midnight stands for a date alone, whole seconds are left out."""
    if isinstance(value, time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if not isinstance(value, datetime) or value.time() == time(0):
        return value.strftime("%d/%m/%Y")
    return value.strftime("%d/%m/%Y %H:%M:%S" if value.second else "%d/%m/%Y %H:%M")


def _xlsx_rows(path: Path, sheet: str) -> Iterator[list[str]]:
    with _workbook(path) as workbook:
        try:
            for row in workbook[sheet].iter_rows(values_only=True):
                yield [_cell_text(value) for value in row]
        except Exception:  # a damaged part met while streaming
            raise FileRefused(_("The Excel file is damaged."), code="import_file_corrupt") from None


# ---- CSV


def _csv_rows(path: Path, layout: Layout) -> Iterator[list[str]]:
    number = 0
    try:
        with path.open(encoding=layout.encoding, newline="") as f:
            for number, row in enumerate(csv.reader(f, delimiter=layout.delimiter), start=1):  # noqa: B007
                yield row
    except UnicodeError:
        raise FileRefused(
            _("The file after row %(row)s cannot be read as %(encoding)s: choose another encoding.")
            % {"row": number, "encoding": ENCODINGS[layout.encoding]},
            code="import_bad_encoding",
        ) from None
    except csv.Error:
        raise FileRefused(
            _("Row %(row)s is not valid CSV.") % {"row": number + 1}, code="import_file_corrupt"
        ) from None


def _clean(value: str) -> str:
    return unicodedata.normalize("NFC", value.replace("\x00", "")).strip()


def read(path: Path, layout: Layout) -> Iterator[list[str]]:
    """Every row of the file as cleaned text (NFC, trimmed, no NUL), the header included."""
    rows = _xlsx_rows(path, layout.sheet) if layout.format == "xlsx" else _csv_rows(path, layout)
    for row in rows:
        yield [_clean(value) for value in row]


def headers_of(row: list[str]) -> list[str]:
    """Column names: the header row's, "Column N" for blank ones, duplicates numbered."""
    names, seen = [], set()
    for index, value in enumerate(row, start=1):
        name = value.lstrip("\ufeff").strip()[:100] or _("Column %(n)s") % {"n": index}
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base} ({n})"
        seen.add(name)
        names.append(name)
    return names


def is_blank(row: list[str]) -> bool:
    return not any(row)
