"""Through the ASGI server, a stream made by synchronous code (a CSV export, an XLSX file, a
static file) is sent as it is made, not first made whole in memory."""

import csv
import io
import threading
import warnings

import httpx
import pytest
from django.contrib.staticfiles import finders
from openpyxl import load_workbook

from leadloop.pipeline import exports
from tests.core.support import capture
from tests.notifications.support import bearer, member_key

LEADS = 40
HELD_AT_ROW = 20  # the export waits here until the client has its first bytes
WAIT_S = 10


@pytest.fixture
def exported(team):
    return [
        capture(team, full_name=f"Nguyễn Văn Đức {i}", phone=f"09120001{i:02d}").lead.pk
        for i in range(LEADS)
    ]


@pytest.fixture
def small_pulls(asgi_server, monkeypatch):
    # imported once the server is: the application reads the test settings as it is made
    from leadloop.config.asgi import OneHopHandler

    monkeypatch.setattr(OneHopHandler, "PULL_BYTES", 1024)


@pytest.fixture
def buffering_warnings():
    """Django's warning when it makes a synchronous stream whole before sending it; the server
    runs in a thread of this process, so its warnings are recorded here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield lambda: [str(w.message) for w in caught if "StreamingHttpResponse" in str(w.message)]


def test_a_csv_export_sends_its_first_rows_before_it_makes_the_rest(
    team, exported, asgi_url, small_pulls, buffering_warnings, monkeypatch
):
    first_bytes, made, seen_first_bytes = threading.Event(), [], []
    row_of = exports.row_of

    def row_held_until_first_bytes(lead, sheet):
        made.append(lead.pk)
        if len(made) == HELD_AT_ROW:
            seen_first_bytes.append(first_bytes.wait(WAIT_S))
        return row_of(lead, sheet)

    monkeypatch.setattr(exports, "row_of", row_held_until_first_bytes)
    url = "/api/v1/leads/export"
    headers = bearer(member_key(team, "admin"))
    with (
        httpx.Client(base_url=asgi_url, headers=headers, timeout=WAIT_S * 2) as client,
        client.stream("GET", url, params={"format": "csv"}) as answer,
    ):
        assert answer.status_code == 200
        parts = answer.iter_raw()
        body = next(parts)
        first_bytes.set()
        body += b"".join(parts)
    assert seen_first_bytes == [True]  # Django alone would have made all rows first
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert sorted(int(row["id"]) for row in rows) == sorted(exported)
    assert {row["full_name"] for row in rows} >= {"Nguyễn Văn Đức 0", "Nguyễn Văn Đức 39"}
    assert buffering_warnings() == []


def test_an_xlsx_export_arrives_whole_in_pieces(
    team, exported, asgi_url, small_pulls, buffering_warnings
):
    headers = bearer(member_key(team, "admin"))
    with httpx.Client(base_url=asgi_url, headers=headers, timeout=WAIT_S) as client:
        answer = client.get("/api/v1/leads/export", params={"format": "xlsx"})
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).worksheets[0]
    ids = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert sorted(ids) == sorted(exported)
    assert buffering_warnings() == []


def test_a_static_file_arrives_whole(asgi_url, buffering_warnings):
    path = finders.find("plotly/plotly.min.js")
    with httpx.Client(base_url=asgi_url, timeout=WAIT_S) as client:
        answer = client.get("/static/plotly/plotly.min.js")
    assert answer.status_code == 200
    with open(path, "rb") as f:
        assert answer.content == f.read()
    assert buffering_warnings() == []
