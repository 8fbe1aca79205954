"""The import wizard in a real browser, with a real Huey consumer running the import."""

import csv
import io

import pytest
from huey.consumer import Consumer
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage
from playwright.sync_api import expect

from leadloop.intake.models import Import
from leadloop.pipeline.models import Lead
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e
CSV = (
    "Họ và tên;Số điện thoại;Email;Ngân sách\r\n"
    "Nguyễn Văn An;0912 345 678;an@example.com;2 tỷ\r\n"
    "Không Có Số;;;1 tỷ\r\n"
    "Trần Thị Bình;0162 345 6789;;\r\n"
)


class _ThreadConsumer(Consumer):
    def _set_signal_handlers(self):  # the test's thread keeps pytest's handlers
        pass


@pytest.fixture
def huey_consumer():
    """A real consumer (one worker thread) on an in-memory queue, so the test never reads or
    fills the queue under var/ that `make run` uses."""
    saved, HUEY.storage = HUEY.storage, MemoryStorage(HUEY.name)
    consumer = _ThreadConsumer(HUEY, workers=1, periodic=False, check_worker_health=False)
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)
        HUEY.storage = saved


def test_a_marketer_imports_a_csv_and_downloads_the_error_report(
    team, browser_page, log_in, huey_consumer, settings, tmp_path
):
    settings.VAR_DIR = tmp_path  # the uploaded file goes here
    page = browser_page
    log_in("marketer@acme.test", PASSWORD)
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_role("link", name="Import leads").click()

    page.get_by_label("CSV or Excel (.xlsx) file").set_input_files(
        {"name": "hoi-cho.csv", "mimeType": "text/csv", "buffer": CSV.encode("utf-16")}
    )
    page.get_by_label("Where does this list come from?").fill("Hội chợ Tết 2027, có đồng ý")
    page.get_by_role("button", name="Upload and check").click()

    expect(page.locator("table.preview")).to_contain_text("Nguyễn Văn An")
    expect(page.locator("tr.invalid")).to_contain_text("Not imported")
    expect(page.get_by_label("Số điện thoại")).to_have_value("phone")
    expect(page.get_by_label("Ngân sách")).to_have_value("field")
    assert not Lead.objects.exists()
    page.get_by_label("Campaign").fill("Tết 2027")
    page.get_by_role("button", name="Import 3 rows").click()

    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress.locator(".percent")).to_have_text("100 %")
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    expect(progress.locator('[data-count="created"]')).to_have_text("2")
    expect(progress.locator('[data-count="invalid"]')).to_have_text("1")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the error report (CSV)").click()
    report = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    assert rows[0] == ["Row", "Column", "Reason"]
    assert [row[:2] for row in rows[1:]] == [["3", "Số điện thoại / Email"]]
    assert set(Lead.objects.values_list("contact__full_name", flat=True)) == {
        "Nguyễn Văn An",
        "Trần Thị Bình",
    }
    assert Import.objects.get().origin == "Hội chợ Tết 2027, có đồng ý"

    page.get_by_role("link", name="See the leads of this file").click()
    expect(page.locator(".result-count")).to_contain_text("2 leads")
    expect(page.locator(".chips")).to_contain_text("From the import of hoi-cho.csv")
    expect(page.locator("table.leads")).to_contain_text("Trần Thị Bình")
