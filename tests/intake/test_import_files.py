"""`leadloop import` and the import services: encodings, delimiters, XLSX, broken files, the same
file twice, the error report's rows."""

import io
import os
import subprocess
import sys
import unicodedata
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import translation
from openpyxl import Workbook

from leadloop.contacts.models import Contact
from leadloop.intake import imports
from leadloop.intake.imports import (
    import_confirm,
    import_open,
    import_preview,
    import_relayout,
    import_run,
    mapping_suggest,
)
from leadloop.intake.models import Import, ImportProblem, Touch
from leadloop.intake.services import leads_capture
from leadloop.intake.sheets import SAMPLE_BYTES, FileRefused
from leadloop.pipeline.models import Lead
from tests.core.support import (
    assert_error,
    capture,
    database_url,
    estimated_rows,
    phone,
    wait_for,
)

LEADLOOP = Path(sys.executable).with_name("leadloop")
HEADER = ["Họ và tên", "SĐT", "E-mail", "Quận", "Ghi chú"]
ROWS = [
    ["Nguyễn Văn Đạt", "0912 345 678", "dat@example.com", "Cầu Giấy", "Gọi sau 5 giờ chiều"],
    ["Trần Thị Ánh Tuyết", "0162 345 6789", "", "Quận 1", ""],
    ["Lê Bình", "", "", "Đống Đa", "không có số"],  # no phone, no e-mail: invalid
    ["Phạm Quỳnh", "0983.111.222", "", "Hoàng Mai", ""],
]
NAMES = {"Nguyễn Văn Đạt", "Trần Thị Ánh Tuyết", "Phạm Quỳnh"}
TONES = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese offices write it: base letters with separate tone marks."""
    out = []
    for char in text:
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out.append((base + "".join(c for c in parts if c in TONES)).encode("cp1258"))
    return b"".join(out)


def csv_text(rows, delimiter=",") -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in rows)


def write(tmp_path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def xlsx(tmp_path, sheets: dict, name="leads.xlsx") -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def cli(path, *args, workspace="acme") -> str:
    """`leadloop import` in English, whatever language an earlier test left active."""
    out = io.StringIO()
    with translation.override("en"):
        call_command("import", str(path), "--workspace", workspace, *args, stdout=out)
    return out.getvalue()


def lead_names(team) -> set[str]:
    return set(
        Lead.objects.filter(workspace=team.workspace).values_list("contact__full_name", flat=True)
    )


ENCODED = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-sig": lambda text: text.encode("utf-8-sig"),
    "utf-16-le": lambda text: text.encode("utf-16"),  # Python writes a BOM, little endian here
    "utf-16-be": lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    "cp1258": cp1258,
}


@pytest.mark.parametrize("encoding", ENCODED)
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_encoding_and_delimiter_is_detected_and_vietnamese_comes_out_right(
    team, tmp_path, encoding, delimiter
):
    path = write(tmp_path, "leads.csv", ENCODED[encoding](csv_text([HEADER, *ROWS], delimiter)))
    job = import_open(
        workspace=team.workspace,
        actor=team.actors["marketer"],
        path=path,
        file_name="leads.csv",
        origin="Hội chợ Tết",
    )
    expected = {"utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(encoding, encoding)
    assert (job.format, job.encoding, job.delimiter) == ("csv", expected, delimiter)
    assert job.headers == HEADER and job.total_rows == 4
    assert job.mapping == ["full_name", "phone", "email", "field", "note"]
    import_confirm(job=job, actor=team.actors["marketer"], mapping=job.mapping, background=False)
    job = import_run(import_id=job.pk)
    assert (job.status, job.created, job.merged, job.invalid, job.failed) == ("done", 3, 0, 1, 0)
    assert lead_names(team) == NAMES
    lead = Lead.objects.get(contact__full_name="Nguyễn Văn Đạt")
    assert lead.fields == {"Quận": "Cầu Giấy"} and lead.note == "Gọi sau 5 giờ chiều"
    assert lead.source.key == "import"
    assert Contact.objects.get(full_name="Trần Thị Ánh Tuyết").phone_e164 == "+84323456789"
    assert lead.touches.get().kind == Touch.Kind.IMPORT


def test_windows_1252_is_told_from_1258_by_the_letters(team, tmp_path):
    rows = [["Name", "Phone", "City"], ["José Müller", "0912345678", "Zürich"]]
    path = write(tmp_path, "west.csv", csv_text(rows, ";").encode("cp1252"))
    out = cli(path)
    assert out.strip() == "created=1 merged=0 invalid=0 failed=0"
    job = Import.objects.get()
    assert (job.encoding, job.delimiter) == ("cp1252", ";")
    assert lead_names(team) == {"José Müller"}


def test_the_encoding_can_be_changed_and_a_wrong_one_is_told(team, tmp_path):
    path = write(tmp_path, "leads.csv", cp1258(csv_text([HEADER, *ROWS])))
    actor = team.actors["admin"]
    job = import_open(
        workspace=team.workspace, actor=actor, path=path, file_name="x.csv", origin="o"
    )
    job = import_relayout(job=job, actor=actor, encoding="cp1252", delimiter=",")
    assert job.encoding == "cp1252" and job.headers[1] != "SĐT"  # mojibake, as asked
    job = import_relayout(job=job, actor=actor, encoding="cp1258", delimiter=",")
    assert job.headers == HEADER
    with pytest.raises(FileRefused, match="UTF-8"):
        import_relayout(job=job, actor=actor, encoding="utf-8", delimiter=",")


def test_xlsx_first_sheet_by_default_another_on_request_numbers_as_text(team, tmp_path):
    path = xlsx(
        tmp_path,
        {
            "Khách hàng": [["Họ tên", "Điện thoại", "Email"], ["Võ Thị Sáu", 912345678, None]],
            "Tháng 2": [["Tên", "Phone"], ["Đỗ Hùng", "0987654321"], ["Ngô Lan", "0987654322"]],
        },
    )
    assert cli(path).strip() == "created=1 merged=0 invalid=0 failed=0"
    assert Contact.objects.get(full_name="Võ Thị Sáu").phone_e164 == "+84912345678"
    assert cli(path, "--sheet", "Tháng 2").strip() == "created=2 merged=0 invalid=0 failed=0"
    with pytest.raises(CommandError, match="sheet"):
        cli(path, "--sheet", "Tháng 3")


def test_xlsx_dates_and_times_read_as_written_in_vietnam(team, tmp_path):
    cells = [date(1990, 5, 17), datetime(2026, 12, 7, 0, 0), datetime(2026, 12, 7, 8, 30)]
    cells += [datetime(2026, 12, 7, 8, 30, 15), time(14, 5)]
    header = ["Họ tên", "Điện thoại", "Ngày sinh", "Ngày đăng ký", "Hẹn", "Gửi lúc", "Giờ gọi"]
    path = xlsx(tmp_path, {"Khách": [header, ["Võ Thị Sáu", "0912345678", *cells]]})
    assert cli(path).strip() == "created=1 merged=0 invalid=0 failed=0"
    assert Lead.objects.get(workspace=team.workspace).fields == {
        "Ngày sinh": "17/05/1990",
        "Ngày đăng ký": "07/12/2026",
        "Hẹn": "07/12/2026 08:30",
        "Gửi lúc": "07/12/2026 08:30:15",
        "Giờ gọi": "14:05",
    }


def test_the_same_file_twice_makes_no_duplicate_contact_lead_or_touch(team, tmp_path):
    rows = [HEADER, *ROWS, ROWS[0]]  # the first row twice within the file too
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    assert cli(path).strip() == "created=3 merged=1 invalid=1 failed=0"
    assert cli(path).strip() == "created=0 merged=4 invalid=1 failed=0"
    path.write_bytes(csv_text([HEADER, ROWS[3], ROWS[1], ROWS[0]], ";").encode("utf-16"))
    assert cli(path).strip() == "created=0 merged=3 invalid=0 failed=0"  # reordered, re-encoded
    assert Contact.objects.filter(workspace=team.workspace).count() == 3
    assert Lead.objects.filter(workspace=team.workspace).count() == 3
    assert Touch.objects.filter(workspace=team.workspace).count() == 3


def test_a_row_with_a_new_value_joins_the_open_lead_as_a_new_touch(team, tmp_path):
    path = write(tmp_path, "a.csv", csv_text([HEADER, ROWS[0]]).encode())
    cli(path, "--source", "Hội chợ")
    changed = [*ROWS[0][:4], "Đã gọi lần 2"]
    path.write_bytes(csv_text([HEADER, changed]).encode())
    assert cli(path, "--source", "Hội chợ").strip() == "created=0 merged=1 invalid=0 failed=0"
    lead = Lead.objects.get()
    assert lead.touches.count() == 2 and lead.source.name == "Hội chợ"


def test_an_imports_leads_are_those_its_rows_opened_or_joined_nothing_else(
    team, other_team, tmp_path
):
    path = write(tmp_path, "a.csv", csv_text([HEADER, *ROWS]).encode())
    cli(path)
    first = Import.objects.get()
    path.write_bytes(csv_text([HEADER, [*ROWS[0][:4], "Đã gọi lần 2"], ROWS[0]]).encode())
    cli(path.rename(tmp_path / "b.csv"))  # joins Đạt's lead; its last row is a repeat
    capture(team, full_name="Khách Web", phone=phone(50))  # not from a file
    second = Import.objects.exclude(pk=first.pk).get()
    api = team.api("marketer")

    def names(job_id, **params) -> set[str]:
        response = api.get("/leads", imported=str(job_id), **params)
        assert response.status_code == 200, response.content
        return {item["contact"]["full_name"] for item in response.json()["items"]}

    assert names(first.pk) == NAMES
    assert names(second.pk) == {"Nguyễn Văn Đạt"}
    assert names(second.pk, q="Tuyết") == set()  # with the other filters
    for wrong in ("abc", "0", "-1", "1" * 30):
        assert assert_error(api.get("/leads", imported=wrong), 422)["fields"]["imported"]
    cli(write(tmp_path, "c.csv", csv_text([HEADER, ROWS[1]]).encode()), workspace="rival")
    theirs = Import.objects.get(workspace=other_team.workspace)
    assert names(theirs.pk) == set()  # another workspace's import: none of this one's leads


def test_error_report_rows_name_the_row_the_column_and_the_reason(team, tmp_path):
    rows = [HEADER, ROWS[0], ROWS[2], ["Dài", "0912000111", "", "x" * 2001, ""]]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    assert cli(path).strip() == "created=1 merged=0 invalid=2 failed=0"
    problems = list(ImportProblem.objects.values_list("row", "column", "reason"))
    assert problems == [
        (3, "SĐT / E-mail", "Give a phone number or an e-mail address."),
        (4, "Quận", "Longer than 2000 characters."),
    ]


def test_source_and_campaign_columns_win_over_the_options(team, tmp_path):
    rows = [
        ["Tên", "SĐT", "Nguồn", "Chiến dịch"],
        ["An", "0912000001", "Zalo", ""],
        ["Bình", "0912000002", "", ""],
    ]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    cli(path, "--source", "facebook", "--campaign", "Tết 2027")
    by_name = {
        lead.contact.full_name: lead
        for lead in Lead.objects.select_related("source", "campaign", "contact")
    }
    assert by_name["An"].source.key == "zalo" and by_name["Bình"].source.key == "facebook"
    assert by_name["An"].campaign.name == by_name["Bình"].campaign.name == "Tết 2027"


def test_mapping_suggestions_fold_accents_and_case():
    headers = [
        "HỌ TÊN",
        "Số Điện Thoại",
        "sdt",
        "EMAIL ",
        "Nguồn",
        "Chiến dịch",
        "Ghi chú",
        "Ngân sách",
    ]
    assert mapping_suggest(headers) == [
        "full_name", "phone", "field", "email", "source", "campaign", "note", "field",
    ]  # fmt: skip
    assert mapping_suggest(["Họ", "Tên", "Phone number", "Notes"]) == [
        "full_name", "full_name", "phone", "note",
    ]  # fmt: skip
    assert mapping_suggest(["Tên khách", "SĐT", "Ghi chú"]) == ["full_name", "phone", "note"]
    # a name that holds a phone or e-mail word; no guess from words that mean something else
    headers = ["Họ tên", "Email công ty", "Phone/Điện thoại", "SĐT 2", "DT sàn", "Tên công ty"]
    assert mapping_suggest(headers) == [
        "full_name", "email", "phone", "field", "field", "field",
    ]  # fmt: skip
    # an exact name wins over one that only holds the word, wherever each stands
    assert mapping_suggest(["Họ tên", "Đồng ý nhận email", "Email", "Phone verified", "Phone"]) == [
        "full_name", "field", "email", "field", "phone",
    ]  # fmt: skip


def test_cli_mapping_overrides_and_a_mapping_without_phone_or_email_is_refused(team, tmp_path):
    rows = [["Khách", "Liên hệ"], ["Hà", "0912000003"]]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    with pytest.raises(CommandError, match="phone or the e-mail"):
        cli(path)
    assert cli(path, "--mapping", "Khách=full_name", "--mapping", "Liên hệ=phone").startswith(
        "created=1 "
    )
    assert lead_names(team) == {"Hà"}
    with pytest.raises(CommandError, match="The columns are: Khách, Liên hệ"):
        cli(path, "--mapping", "Nope=phone")


def test_preview_shows_the_quality_issues_and_writes_nothing(team, tmp_path):
    rows = [HEADER, ["Lan 0912", "12345", "bad@", "", ""], ROWS[2], ROWS[0]]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    job = import_open(
        workspace=team.workspace, actor=team.actors["admin"], path=path, file_name="a", origin="o"
    )
    preview = import_preview(job=job)
    assert [row.number for row in preview] == [2, 3, 4]
    assert preview[0].issues == ["name_has_digits", "phone_invalid", "email_invalid"]
    assert preview[1].problem and preview[1].problem.column == "SĐT / E-mail"
    assert preview[2].issues == [] and preview[2].problem is None
    assert not Lead.objects.exists() and not Contact.objects.exists()


def zip_bomb(tmp_path) -> Path:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 2**20))
    return path


def truncated_xlsx(tmp_path) -> Path:
    path = xlsx(tmp_path, {"A": [["Tên", "SĐT"], ["An", "0912000001"]]}, name="full.xlsx")
    return write(tmp_path, "cut.xlsx", path.read_bytes()[:600])


BROKEN = {
    "empty": (lambda tmp: write(tmp, "e.csv", b""), "empty"),
    "blank lines": (lambda tmp: write(tmp, "e.csv", b"\r\n\r\n  \r\n"), "empty"),
    "header only": (lambda tmp: write(tmp, "h.csv", "Họ tên,SĐT\r\n".encode()), "no data rows"),
    "random bytes": (lambda tmp: write(tmp, "r.csv", os.urandom(4096)), "not a CSV"),
    "encrypted": (
        lambda tmp: write(tmp, "p.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048)),
        "password-protected",
    ),
    "truncated zip": (truncated_xlsx, "damaged"),
    "zip bomb": (zip_bomb, "unpacks to \\d+ times its size"),
    "a PDF named .csv": (
        lambda tmp: write(tmp, "x.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\x00\x01\x02"),
        "not a CSV",
    ),
    "a zip that is no workbook": (
        lambda tmp: write(tmp, "n.xlsx", _zip_with({"readme.txt": b"hello"})),
        "damaged",
    ),
}


def _zip_with(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("case", BROKEN)
def test_broken_files_are_refused_with_a_clear_message_and_nothing_stored(team, tmp_path, case):
    make, message = BROKEN[case]
    with pytest.raises(CommandError, match=message):
        cli(make(tmp_path))
    assert not Import.objects.exists() and not Lead.objects.exists()


def test_a_workbook_larger_than_the_limit_unpacked_is_refused_with_both_sizes(
    team, tmp_path, settings
):
    settings.LEADLOOP_IMPORT_MAX_UNZIPPED_BYTES = 2**20
    path = write(
        tmp_path, "big.xlsx", _zip_with({"xl/worksheets/sheet1.xml": os.urandom(3 * 2**20)})
    )
    with pytest.raises(CommandError, match="too much data \\(3 MB\\); the limit is 1 MB"):
        cli(path)
    assert not Import.objects.exists()


def test_utf16_chosen_for_a_file_without_its_byte_order_mark_is_a_clear_refusal(team, tmp_path):
    path = write(tmp_path, "le.csv", "Họ tên,SĐT\r\nAn,0912000001\r\n".encode("utf-16-le"))
    with pytest.raises(CommandError, match="cannot be read as UTF-16"):
        cli(path, "--encoding", "utf-16")
    assert not Import.objects.exists()


def test_a_stray_nul_in_a_cell_is_dropped_not_the_whole_file(team, tmp_path):
    data = "Họ và tên,Số điện thoại\r\nNguyễn\0 An,0916111111\r\nBình,0916111112\r\n"
    assert cli(write(tmp_path, "nul.csv", data.encode())).strip() == (
        "created=2 merged=0 invalid=0 failed=0"
    )
    assert lead_names(team) == {"Nguyễn An", "Bình"}


def test_a_stray_nul_in_a_file_larger_than_the_sample_is_dropped_too(team, tmp_path):
    """The encoding is guessed from the file's first SAMPLE_BYTES, here cut inside a letter."""
    for pad in range(4):
        data = _names_with_a_nul(pad)
        if data[SAMPLE_BYTES] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the cut splits a letter
            break
    assert data[SAMPLE_BYTES] & 0xC0 == 0x80
    summary = cli(write(tmp_path, "nul-big.csv", data)).strip()
    assert summary == "created=3000 merged=0 invalid=0 failed=0"
    assert "Nguyễn An" in lead_names(team)


def _names_with_a_nul(pad: int) -> bytes:
    rows = [f"Trần Thị Hương {i},09{i:08d}" for i in range(3000)]
    rows[1] = "Nguyễn\0 An" + " " * pad + ",0916111111"
    return ("Họ và tên,Số điện thoại\r\n" + "\r\n".join(rows) + "\r\n").encode()


def test_an_xlsx_named_csv_is_read_as_a_workbook(team, tmp_path):
    path = xlsx(tmp_path, {"A": [["Tên", "SĐT"], ["An", "0912000001"]]}, name="wrong.csv")
    assert cli(path).strip() == "created=1 merged=0 invalid=0 failed=0"


def test_limits_on_rows_and_size(team, tmp_path):
    rows = [["Tên", "SĐT"], *([f"P{i}", f"0912{i:06d}"] for i in range(6))]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    with (
        override_settings(LEADLOOP_IMPORT_MAX_ROWS=5),
        pytest.raises(CommandError, match="more than 5 rows"),
    ):
        cli(path)
    with (
        override_settings(LEADLOOP_IMPORT_MAX_FILE_BYTES=2**20),
        pytest.raises(CommandError, match="too large"),
    ):
        cli(write(tmp_path, "big.csv", b"a,b\r\n" + b"x,0912000001\r\n" * 80_000))
    assert not Import.objects.exists()


def test_a_character_cut_by_the_detection_sample_does_not_fool_it(team, tmp_path):
    for pad in ("x" * n for n in range(20)):
        data = csv_text([["Tên", "SĐT"], *([pad + "Đ" * 50, "0912000001"] for _ in range(700))])
        data = data.encode()
        if data[SAMPLE_BYTES] & 0xC0 == 0x80:  # the sample ends inside a character
            break
    else:
        raise AssertionError("no padding cuts a character")
    assert (
        cli(write(tmp_path, "leads.csv", data)).strip() == "created=1 merged=699 invalid=0 failed=0"
    )
    assert Import.objects.get().encoding == "utf-8"


def test_a_decoding_error_after_the_sample_is_a_clear_refusal(team, tmp_path):
    good = csv_text([["Tên", "SĐT"], *([f"Người {i}", f"0912{i:06d}"] for i in range(5000))])
    path = write(tmp_path, "leads.csv", good.encode() + b"Bad \xff\xfe row,0912999999\r\n")
    with pytest.raises(CommandError, match=r"after row [0-9]+ cannot be read as UTF-8"):
        cli(path)


def test_a_sales_rep_cannot_import_and_a_second_run_of_the_task_does_nothing(team, tmp_path):
    path = write(tmp_path, "leads.csv", csv_text([HEADER, *ROWS]).encode())
    with translation.override("en"), pytest.raises(Exception, match="importing"):
        import_open(
            workspace=team.workspace,
            actor=team.actors["sales"],
            path=path,
            file_name="a",
            origin="o",
        )
    actor = team.actors["manager"]
    job = import_open(workspace=team.workspace, actor=actor, path=path, file_name="a", origin="o")
    import_confirm(job=job, actor=actor, mapping=job.mapping, background=False)
    assert import_run(import_id=job.pk).created == 3
    assert import_run(import_id=job.pk).created == 3  # a second run of the task does nothing
    assert Touch.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_installed_command_prints_the_summary_and_exits_by_readability(tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url()}

    def leadloop(*args):
        return subprocess.run(
            [str(LEADLOOP), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    assert leadloop("workspace", "create", "cli-import").returncode == 0
    good = write(tmp_path, "leads.csv", csv_text([HEADER, *ROWS]).encode("utf-8-sig"))
    done = leadloop("import", str(good), "--workspace", "cli-import", "--source", "Hội chợ")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "created=3 merged=0 invalid=1 failed=0\n"
    bad = write(tmp_path, "bad.csv", os.urandom(2048))
    refused = leadloop("import", str(bad), "--workspace", "cli-import")
    assert refused.returncode != 0 and refused.stdout == ""
    # the reason in the default language (Vietnamese)
    assert "Đây không phải tệp CSV" in refused.stderr and "Traceback" not in refused.stderr
    missing = leadloop("import", str(tmp_path / "nope.csv"), "--workspace", "cli-import")
    assert missing.returncode != 0 and "Không mở được tệp." in missing.stderr
    assert Import.objects.get().origin == f"leadloop import {good}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the refresh reads what the chunks committed
def test_a_long_import_refreshes_the_planner_statistics_on_postgres(team, tmp_path):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE pipeline_lead")  # the estimate as the table stands: no leads
    assert estimated_rows("pipeline_lead") < 1000
    rows = [["Họ tên", "SĐT"]] + [[f"Khách {n}", f"091{n:07d}"] for n in range(1001)]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    assert cli(path).strip() == "created=1001 merged=0 invalid=0 failed=0"
    assert wait_for(lambda: estimated_rows("pipeline_lead") >= 1000)  # after the first chunk


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_an_import_copies_its_log_into_the_file_less_often_and_only_while_it_runs(
    team, tmp_path
):
    if connection.vendor != "sqlite":
        pytest.skip("a setting of SQLite's write-ahead log")
    seen = []

    def spacing_at_each_lead_insert(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "pipeline_lead"'):
            raw = context["connection"].connection
            seen.append(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        return execute(sql, params, many, context)

    rows = [["Họ tên", "SĐT"]] + [[f"Khách {n}", f"091{n:07d}"] for n in range(1500)]
    path = write(tmp_path, "leads.csv", csv_text(rows).encode())
    with connection.execute_wrapper(spacing_at_each_lead_insert):
        assert cli(path).strip() == "created=1500 merged=0 invalid=0 failed=0"
    assert seen == [16384, 16384]  # one insert a chunk of 1,000
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000  # as every other connection's, after the import


@pytest.mark.django_db(transaction=True)  # the chunk's own transaction, not a savepoint
def test_a_chunks_commit_does_not_wait_for_the_disk_and_the_setting_ends_with_it(
    team, tmp_path, monkeypatch
):
    """An import's chunk commits without waiting for PostgreSQL's disk (its rows are found
    again after a crash by a resumed import); the connection's other transactions still wait."""
    if connection.vendor != "postgresql":
        pytest.skip("a setting of PostgreSQL")
    seen = []

    def spy(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])
        return leads_capture(**kwargs)

    monkeypatch.setattr(imports, "leads_capture", spy)
    path = write(tmp_path, "leads.csv", csv_text([HEADER, *ROWS]).encode())
    assert cli(path).strip() == "created=3 merged=0 invalid=1 failed=0"
    assert seen == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
