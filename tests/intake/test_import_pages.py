"""The import wizard's pages: upload, read again, map, run on the worker, progress, error report;
roles and workspaces."""

import csv
import io
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.utils import timezone

from leadloop.core.models import AuditLog
from leadloop.intake.models import Import
from leadloop.pipeline.models import Lead
from tests.intake.test_import_files import HEADER, ROWS, cli, cp1258, csv_text

URL = "/leads/import/"


@pytest.fixture
def tasks(worker, django_capture_on_commit_callbacks):
    """`with tasks():` runs the tasks queued in the block at its end, in Huey's immediate mode
    (in memory: nothing reaches the queue under var/)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def upload(client, data: bytes, name="khach-hang.csv", origin="Hội chợ Tết 2027, có đồng ý"):
    file = SimpleUploadedFile(name, data)
    return client.post(f"{URL}?lang=en", {"file": file, "origin": origin})


def mapping_post(job: Import, **extra) -> dict:
    return {f"col{i}": target for i, target in enumerate(job.mapping)} | extra


def test_a_marketer_uploads_checks_the_preview_maps_and_runs_an_import(team, tasks):
    client = team.browser_client("marketer")
    response = upload(client, cp1258(csv_text([HEADER, *ROWS], ";")))
    job = Import.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{URL}{job.pk}/"
    assert (job.encoding, job.delimiter, job.origin) == (
        "cp1258",
        ";",
        "Hội chợ Tết 2027, có đồng ý",
    )
    assert job.created_by == team.members["marketer"]
    page = client.get(f"{URL}{job.pk}/", {"lang": "en"}).content.decode()
    assert "Windows-1258" in page and "Nguyễn Văn Đạt" in page and "Cầu Giấy" in page
    assert "Not imported: SĐT / E-mail: Give a phone number or an e-mail address." in page
    assert 'value="field" selected' in page and 'value="phone" selected' in page
    assert not Lead.objects.exists()

    ignore_note = mapping_post(job, col4="", source="Hội chợ", campaign="Tết 2027")
    preview = client.post(f"{URL}{job.pk}/start/", ignore_note | {"preview": "1"})
    assert preview.status_code == 200 and not Lead.objects.exists()
    assert Import.objects.get().status == "draft"

    with tasks():
        started = client.post(f"{URL}{job.pk}/start/", ignore_note)
    assert started.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.rows_read, job.created, job.merged, job.invalid) == ("done", 4, 3, 0, 1)
    lead = Lead.objects.get(contact__full_name="Nguyễn Văn Đạt")
    assert (lead.source.name, lead.campaign.name, lead.note) == ("Hội chợ", "Tết 2027", "")
    assert "· khach-hang.csv" in client.get(f"/leads/{lead.pk}/").content.decode()  # its file
    assert AuditLog.objects.filter(action="import.start", object_id=str(job.pk)).exists()

    progress = client.get(f"{URL}{job.pk}/progress/", headers={"HX-Request": "true"})
    text = progress.content.decode()
    assert 'value="100"' in text and 'data-count="created">3<' in text
    assert "hx-trigger" not in text  # finished: the polling stops
    assert f'href="/leads/?imported={job.pk}"' in text
    listed = client.get("/leads/", {"imported": job.pk, "lang": "en"}).content.decode()
    assert "3 leads" in listed and "From the import of khach-hang.csv" in listed
    mine = Lead.objects.filter(owner=team.members["sales"]).count()
    assert 0 < mine < 3
    listed = team.browser_client("sales").get("/leads/", {"imported": job.pk, "lang": "en"})
    html = listed.content.decode()
    assert f"{mine} lead" in html  # a rep still sees only their own
    assert f"From import #{job.pk}" in html and "khach-hang.csv" not in html  # not theirs to see
    report = client.get(f"{URL}{job.pk}/errors.csv")
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Column", "Reason"]  # in the page's language
    assert [row[:2] for row in rows[1:]] == [["4", "SĐT / E-mail"]]
    history = client.get(URL, {"lang": "vi"}).content.decode()
    uploaded = timezone.localtime(job.created_at, ZoneInfo(team.workspace.time_zone))
    assert 'data-label="Tải lên lúc"><time datetime=' in history
    assert f"{uploaded:%H:%M %d/%m/%Y}</time></td>" in history
    assert f'data-label="Người nhập">{team.members["marketer"].full_name}</td>' in history


def test_big_counts_are_grouped_as_each_language_writes_them(team):
    client = team.browser_client("marketer")
    upload(client, csv_text([HEADER, *ROWS]).encode())
    job = Import.objects.get()
    Import.objects.filter(pk=job.pk).update(
        status="running", total_rows=20000, rows_read=12345, created=11000
    )
    hx = {"HX-Request": "true"}
    vi = client.get(f"{URL}{job.pk}/progress/", {"lang": "vi"}, headers=hx).content.decode()
    assert 'data-count="rows_read">12.345 / 20.000<' in vi and ">11.000<" in vi
    en = client.get(f"{URL}{job.pk}/", {"lang": "en"}).content.decode()
    assert "12,345 / 20,000" in en and "20,000 rows" in en


def test_an_import_not_started_can_be_discarded_with_its_file(team, other_team, tasks):
    client = team.browser_client("marketer")
    upload(client, csv_text([HEADER, *ROWS]).encode())
    job = Import.objects.get()
    stored = Path(job.file_path)
    assert stored.is_file() and "discard/" in client.get(f"{URL}{job.pk}/").content.decode()
    assert team.browser_client("sales").post(f"{URL}{job.pk}/discard/").status_code == 403
    assert other_team.browser_client("admin").post(f"{URL}{job.pk}/discard/").status_code == 404
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = client.post(f"{URL}{job.pk}/discard/", {"lang": "en"}, follow=True)
    assert "The import of khach-hang.csv was discarded." in done.content.decode()
    assert not Import.objects.exists() and not stored.exists()
    assert AuditLog.objects.filter(action="import.discard", object_id=str(job.pk)).exists()
    upload(client, csv_text([HEADER, *ROWS]).encode())
    started = Import.objects.get()
    with tasks():
        client.post(f"{URL}{started.pk}/start/", mapping_post(started))
    assert client.post(f"{URL}{started.pk}/discard/").status_code == 302
    assert Import.objects.filter(pk=started.pk, status="done").exists()  # started: kept


def test_reading_again_with_another_encoding_and_sheet(team):
    client = team.browser_client("manager")
    upload(client, cp1258(csv_text([HEADER, *ROWS])))
    job = Import.objects.get()
    client.post(f"{URL}{job.pk}/layout/", {"encoding": "cp1252", "delimiter": ","})
    job.refresh_from_db()
    assert job.encoding == "cp1252" and job.headers != HEADER
    refused = client.post(f"{URL}{job.pk}/layout/", {"encoding": "utf-16-be", "delimiter": ","})
    assert refused.status_code == 422
    job.refresh_from_db()
    assert job.encoding == "cp1252"


def test_an_import_that_has_started_cannot_be_changed(team, tasks):
    client = team.browser_client("admin")
    upload(client, csv_text([HEADER, *ROWS]).encode())
    job = Import.objects.get()
    with tasks():
        client.post(f"{URL}{job.pk}/start/", mapping_post(job))
    with tasks():
        again = client.post(f"{URL}{job.pk}/start/", mapping_post(job))
    assert again.status_code == 302 and Lead.objects.count() == 3  # shows the progress instead
    relayout = client.post(f"{URL}{job.pk}/layout/", {"encoding": "utf-8", "delimiter": ";"})
    assert relayout.status_code == 422


def test_a_mapping_without_phone_or_email_is_refused_on_the_form(team):
    client = team.browser_client("admin")
    upload(client, csv_text([HEADER, *ROWS]).encode())
    job = Import.objects.get()
    response = client.post(f"{URL}{job.pk}/start/", mapping_post(job, col1="field", col2=""))
    assert response.status_code == 422
    assert Import.objects.get().status == "draft"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty."),
        ("Họ tên,SĐT\r\n".encode(), "header row but no data rows"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000), "password-protected"),
        (bytes(range(256)) * 8, "not a CSV or Excel"),
        (b"PK\x03\x04broken", "damaged"),
    ],
)
def test_unreadable_uploads_get_a_clear_message_and_no_import(team, data, message):
    response = upload(team.browser_client("admin"), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Import.objects.exists()


def test_an_upload_over_the_limit_or_without_origin_is_refused(team):
    client = team.browser_client("admin")
    with override_settings(LEADLOOP_IMPORT_MAX_UPLOAD_BYTES=2**20):
        big = upload(client, b"Ten,SDT\r\n" + b"An,0912000001\r\n" * 100_000)
    assert big.status_code == 422 and "too large" in big.content.decode()
    no_origin = upload(client, csv_text([HEADER, *ROWS]).encode(), origin=" ")
    assert no_origin.status_code == 422
    assert not Import.objects.exists()


def test_sales_cannot_import_and_another_workspace_import_is_not_found(team, other_team):
    sales = team.browser_client("sales")
    assert sales.get(URL).status_code == 403
    assert upload(sales, csv_text([HEADER, *ROWS]).encode()).status_code == 403
    assert not Import.objects.exists()

    upload(other_team.browser_client("admin"), csv_text([HEADER, *ROWS]).encode(), "doi-thu.csv")
    theirs = Import.objects.get()
    client = team.browser_client("admin")
    for path in ("", "progress/", "errors.csv"):
        assert client.get(f"{URL}{theirs.pk}/{path}").status_code == 404
    for path in ("start/", "layout/"):
        assert client.post(f"{URL}{theirs.pk}/{path}", mapping_post(theirs)).status_code == 404
    assert sales.get(f"{URL}{theirs.pk}/").status_code in (403, 404)
    assert "doi-thu.csv" not in client.get(URL).content.decode()


def test_the_lead_list_and_settings_link_to_the_import(team):
    link = f'href="{URL}"'
    assert link in team.browser_client("marketer").get("/leads/").content.decode()
    assert link in team.browser_client("manager").get("/settings/").content.decode()
    assert link not in team.browser_client("sales").get("/leads/").content.decode()


def test_the_wizard_speaks_vietnamese_by_default(team):
    client = team.browser_client("marketer")
    page = client.get(URL).content.decode()
    assert "Nhập lead" in page and "Danh sách này lấy từ đâu?" in page
    file = SimpleUploadedFile("a.csv", "Họ tên,SĐT\r\n".encode())
    refused = client.post(URL, {"file": file, "origin": "Hội chợ"}).content.decode()
    assert "Tệp chỉ có dòng tiêu đề, không có dòng dữ liệu nào." in refused
    upload(client, csv_text([HEADER, *ROWS]).encode())
    job = Import.objects.get()
    detail = client.get(f"{URL}{job.pk}/?lang=vi").content.decode()
    assert "Giữ làm trường của lead" in detail and "Nhập 4 dòng" in detail
    assert "Không nhập" in detail and "Thiếu số điện thoại" in detail


def test_an_import_stopped_midway_is_resumed_after_its_last_stored_chunk(team, tmp_path, tasks):
    """The worker died after the first 1,000 rows: the sweep queues the import again and it goes
    on from row 1,001, so nothing is read, counted or stored twice."""
    from datetime import timedelta

    from leadloop.core import clock
    from leadloop.intake.imports import import_run, imports_resume_stalled
    from leadloop.intake.models import Import, Touch

    rows = [["Họ tên", "SĐT"]] + [[f"Khách {n}", f"091{n:07d}"] for n in range(2500)]
    path = tmp_path / "leads.csv"
    path.write_text(csv_text(rows[:1001]), encoding="utf-8")
    assert "created=1000" in cli(path)
    job = Import.objects.get()
    path.write_text(csv_text(rows), encoding="utf-8")  # the rest of the file was still to come
    Import.objects.filter(pk=job.pk).update(
        status=Import.Status.RUNNING,
        finished_at=None,
        progressed_at=clock.now() - timedelta(minutes=11),
    )
    with tasks():
        resumed = imports_resume_stalled()
    assert resumed == 1
    job.refresh_from_db()
    assert job.status == Import.Status.DONE
    assert (job.rows_read, job.created, job.merged) == (2500, 2500, 0)
    owners = Lead.objects.filter(workspace=team.workspace).values_list("owner_id", flat=True)
    assert job.assigned == {str(owner): n for owner, n in Counter(owners).items()}
    assert Touch.objects.filter(workspace=team.workspace).count() == 2500
    assert import_run(import_id=job.pk).status == Import.Status.DONE  # a second task: nothing


def test_a_running_import_that_moves_is_left_alone(team, tmp_path):
    from leadloop.intake.imports import imports_resume_stalled
    from leadloop.intake.models import Import

    path = tmp_path / "leads.csv"
    path.write_text(csv_text([["Họ tên", "SĐT"], ["An", "0912345678"]]), encoding="utf-8")
    cli(path)
    Import.objects.update(status=Import.Status.RUNNING)  # its last chunk is seconds old
    assert imports_resume_stalled() == 0
    assert Import.objects.get().status == Import.Status.RUNNING
