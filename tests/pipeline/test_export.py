"""Lead export: CSV (streamed, UTF-8 with BOM) and XLSX, formula injection, phone cells,
Vietnamese text, filters and roles, from the API and the lead list page."""

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from leadloop.core.models import AuditLog
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error, capture

EVIL = ['=HYPERLINK("http://x")', "+SUM(1,2)", "-2+3", "@cmd"]
EVIL_NOTES = ["\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0", "ok"]


@pytest.fixture
def leads(team):
    made = [
        capture(team, full_name=name, phone=f"09120000{i:02d}", source="facebook", note=note).lead
        for i, (name, note) in enumerate(zip(EVIL, EVIL_NOTES, strict=True))
    ]
    made.append(
        capture(
            team,
            full_name="Nguyễn Thị Hồng Nhung",
            phone="+84 901 234 567",
            email="nhung@example.com",
            source="google",
            note="Cần tư vấn khóa IELTS; ngân sách 2 tỷ",
        ).lead
    )
    made.append(capture(team, full_name="Sai Số", phone="=1+2", email="a@b.vn").lead)
    return made


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_rows(response):
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = book.worksheets[0]
    header, *rows = list(sheet.iter_rows())
    names = [c.value for c in header]
    return [dict(zip(names, row, strict=True)) for row in rows]


def test_csv_content(team, leads):
    answer = team.api("admin").get("/leads/export", format="csv")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"].startswith('attachment; filename="leads-')
    rows = {int(r["id"]): r for r in csv_rows(answer)}
    assert set(rows) == {lead.pk for lead in leads}
    for lead, name, note in zip(leads, EVIL, EVIL_NOTES, strict=False):
        assert rows[lead.pk]["full_name"] == "'" + name
        assert rows[lead.pk]["note"] == (note if note == "ok" else "'" + note)
    nhung = rows[leads[len(EVIL)].pk]
    assert nhung["full_name"] == "Nguyễn Thị Hồng Nhung"
    assert nhung["phone"] == "+84901234567"  # E.164, unescaped and unmangled
    assert nhung["note"] == "Cần tư vấn khóa IELTS; ngân sách 2 tỷ"
    assert rows[leads[-1].pk]["phone"] == "'=1+2"  # a phone that did not parse is escaped
    assert AuditLog.objects.filter(action="lead.export").count() == 1


def test_xlsx_content(team, leads):
    answer = team.api("admin").get("/leads/export", format="xlsx")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = {r["id"].value: r for r in xlsx_rows(answer)}
    assert set(rows) == {lead.pk for lead in leads}
    for lead, name, note in zip(leads, EVIL, EVIL_NOTES, strict=False):
        cell = rows[lead.pk]["full_name"]
        assert cell.value == "'" + name and cell.data_type == "s"
        assert rows[lead.pk]["note"].value.startswith("'" if note != "ok" else "o")
    nhung = rows[leads[len(EVIL)].pk]
    assert nhung["phone"].value == "+84901234567" and nhung["phone"].data_type == "s"
    assert nhung["full_name"].value == "Nguyễn Thị Hồng Nhung"
    phones = [r["phone"] for r in rows.values()]
    assert all(c.data_type == "s" for c in phones)
    assert {c.value for c in phones} >= {"+84912000000", "'=1+2"}


def test_the_leads_own_fields_are_columns_too(team, leads):
    """Fields from forms, imports and providers are data too: an export keeps every one."""
    hanoi = capture(team, phone="0912999001", fields={"Tỉnh/Thành": "Hà Nội", "Ngân sách": 2000})
    capture(team, phone="0912999002", fields={"=cmd": "+1", "Tỉnh/Thành": "Huế"})
    added = ["fields.=cmd", "fields.Ngân sách", "fields.Tỉnh/Thành"]  # never a formula
    rows = {int(r["id"]): r for r in csv_rows(team.api("admin").get("/leads/export"))}
    assert list(rows[hanoi.lead.pk])[-3:] == added
    assert [rows[hanoi.lead.pk][name] for name in added] == ["", "2000", "Hà Nội"]
    assert rows[leads[0].pk]["fields.Tỉnh/Thành"] == ""
    assert sorted(r["fields.=cmd"] for r in rows.values())[-1] == "'+1"
    cells = {
        r["id"].value: r for r in xlsx_rows(team.api("admin").get("/leads/export", format="xlsx"))
    }
    assert cells[hanoi.lead.pk]["fields.Ngân sách"].value == 2000
    only_google = csv_rows(team.api("admin").get("/leads/export", source="google"))
    assert not any(name.startswith("fields.") for name in only_google[0])  # none of theirs


def test_filters_apply(team, leads):
    api = team.api("admin")
    rows = csv_rows(api.get("/leads/export", source="google"))
    assert [int(r["id"]) for r in rows] == [leads[len(EVIL)].pk]
    rows = csv_rows(api.get("/leads/export", q="nguyen thi hong"))
    assert len(rows) == 1
    assert_error(api.get("/leads/export", format="pdf"), 422)
    assert_error(api.get("/leads/export", created_from="yesterday"), 422)


def test_roles_and_workspaces(team, other_team, leads):
    Lead.objects.filter(pk=leads[0].pk).update(owner=team.members["sales"])
    Lead.objects.exclude(pk=leads[0].pk).update(owner=team.members["sales2"])
    rows = csv_rows(team.api("sales").get("/leads/export"))
    assert [int(r["id"]) for r in rows] == [leads[0].pk]
    assert len(csv_rows(team.api("marketer").get("/leads/export"))) == len(leads)
    assert csv_rows(other_team.api("admin").get("/leads/export")) == []


def test_page_export_uses_the_list_filters(team, leads):
    client = team.browser_client("manager")
    listing = client.get("/leads/?source=google", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "/leads/export/?source=google&amp;format=csv" in listing
    answer = client.get("/leads/export/?source=google&format=csv&lang=en")
    assert [int(r["Lead"]) for r in csv_rows(answer)] == [leads[len(EVIL)].pk]
    answer = client.get("/leads/export/?source=google&format=xlsx&lang=en")
    assert [r["Lead"].value for r in xlsx_rows(answer)] == [leads[len(EVIL)].pk]
    assert client.get("/leads/export/?format=pdf").status_code == 422
    assert client.get("/leads/export/?created_from=nope").status_code == 400


def test_the_page_export_reads_as_people_read_the_list(team):
    lead = capture(
        team, full_name="Lê Văn Tám", phone="0912000777", source="Facebook Ads",
        campaign="Tết 2027", fields={"Quận": "Ba Đình", "=cmd": "x", "Trạng thái": "VIP"},
    ).lead  # fmt: skip
    client = team.browser_client("manager")
    [row] = csv_rows(client.get("/leads/export/?format=csv&lang=vi"))
    created = timezone.localtime(lead.created_at, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert list(row)[:4] == ["Lead", "Ngày tạo", "Họ và tên", "Số điện thoại"]
    assert row["Ngày tạo"] == f"{created:%d/%m/%Y %H:%M}"
    assert (row["Nguồn"], row["Chiến dịch"]) == ("Facebook Ads", "Tết 2027")
    assert row["Trạng thái"] == lead.stage.name_vi and row["Đang mở"] == "Có"
    assert (row["Quận"], row["'=cmd"]) == ("Ba Đình", "x")  # a field under its own name
    assert row["Trạng thái (trường)"] == "VIP"  # named like a standard column: told apart
    [cells] = xlsx_rows(client.get("/leads/export/?format=xlsx&lang=en"))
    assert cells["Created"].value == created.replace(tzinfo=None, microsecond=0)
    assert cells["Created"].is_date and cells["Stage"].value == lead.stage.name_en
    assert cells["Open"].value == "Yes" and cells["Phone"].value == "+84912000777"
    answer = client.get("/leads/export/?format=xlsx&lang=vi")
    book = load_workbook(io.BytesIO(b"".join(answer.streaming_content)), read_only=True)
    assert book.sheetnames == ["Lead"]  # the sheet's name in the page's language too
