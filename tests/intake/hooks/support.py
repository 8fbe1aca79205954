"""Shared by the webhook tests: provider channels, signed deliveries, Huey in immediate mode and
a stand-in Graph API (a real HTTP server on 127.0.0.1) that can fail, refuse and recover."""

import hashlib
import hmac
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client, TestCase

from leadloop.intake.models import Channel
from leadloop.intake.services import channel_create

SECRETS = {
    "facebook": {
        "verify_token": "xac-minh-123",
        "app_secret": "fb-app-secret",
        "page_access_token": "page-token",
    },
    "google": {"google_key": "google-khoa-bi-mat"},
    "tiktok": {"app_secret": "tiktok-secret"},
    "zalo": {"app_id": "3608465249", "oa_secret_key": "zalo-oa-secret"},
}


def make_channels(team) -> dict[str, Channel]:
    return {
        kind: channel_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            kind=kind,
            name=kind.title(),
            settings=settings,
        )
        for kind, settings in SECRETS.items()
    }


def body_of(payload) -> bytes:
    return (
        payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    )


def sign(provider: str, body: bytes, secrets: dict | None = None) -> dict:
    """The signature header the provider sends with `body`."""
    s = secrets or SECRETS[provider]
    if provider == "facebook":
        digest = hmac.new(s["app_secret"].encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}"}
    if provider == "tiktok":
        return {"X-Open-Signature": hmac.new(s["app_secret"].encode(), body, "sha256").hexdigest()}
    if provider == "zalo":
        timestamp = str(json.loads(body)["timestamp"]).encode()
        signed = s["app_id"].encode() + body + timestamp + s["oa_secret_key"].encode()
        return {"X-ZEvent-Signature": f"mac={hashlib.sha256(signed).hexdigest()}"}
    return {}


def post(
    provider: str, payload, *, workspace: str = "acme", headers: dict | None = None, signed=True
):
    """POST a delivery as the provider does; the tasks it enqueues on commit run (immediate)."""
    body = body_of(payload)
    sent = {**(sign(provider, body) if signed else {}), **(headers or {})}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client().post(
            f"/hooks/{workspace}/{provider}",
            data=body,
            content_type="application/json",
            headers=sent,
        )


def leadgen(*leads, page_id=111222333) -> dict:
    """A Facebook `leadgen` notification; each lead is (leadgen_id, form_id[, ad_id])."""
    changes = [
        {
            "field": "leadgen",
            "value": {
                "leadgen_id": lead[0],
                "page_id": page_id,
                "form_id": lead[1],
                "adgroup_id": 238_000_111,
                "ad_id": lead[2] if len(lead) > 2 else 238_000_222,
                "created_time": 1_795_000_000,
            },
        }
        for lead in leads
    ]
    return {
        "object": "page",
        "entry": [{"id": str(page_id), "time": 1_795_000_000, "changes": changes}],
    }


def graph_lead(leadgen_id, name="Nguyễn Thị Hoa", phone="0912 345 678", **extra) -> dict:
    fields = {"full_name": name, "phone_number": phone, **extra}
    return {
        "id": str(leadgen_id),
        "created_time": "2026-11-22T10:00:00+0000",
        "field_data": [{"name": k, "values": [v]} for k, v in fields.items()],
    }


class GraphApi:
    """A stand-in Graph API on 127.0.0.1: GET /{lead id} and GET /{form id}/leads (paged).

    `mode` is "ok", "500" (answers 500) or "down" (the port refuses connections)."""

    def __init__(self):
        self.leads: dict[str, dict] = {}
        self.forms: dict[str, list[str]] = {}
        self.requests: list[tuple[str, dict]] = []
        self.mode = "ok"
        self.page_size = 2
        self.server = None
        self.port = 0

    # ---- the server
    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                api.requests.append((parts.path, query))
                status, payload = api.answer(parts.path.strip("/").split("/"), query)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_mode(self, mode: str) -> None:
        if mode == "down":
            self.stop()
        elif self.server is None:
            self.start()
        self.mode = mode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    # ---- the answers
    def answer(self, path: list[str], query: dict) -> tuple[int, dict]:
        if self.mode == "500":
            return 500, {"error": {"message": "An unknown error occurred", "code": 1}}
        if query.get("access_token") != SECRETS["facebook"]["page_access_token"]:
            return 400, {"error": {"message": "Invalid OAuth access token", "code": 190}}
        if len(path) == 2 and path[1] in self.leads:
            return 200, self.leads[path[1]]
        if len(path) == 3 and path[2] == "leads" and path[1] in self.forms:
            return 200, self.form_page(path[1], query)
        return 404, {"error": {"message": "Unsupported get request", "code": 100}}

    def form_page(self, form_id: str, query: dict) -> dict:
        ids = self.forms[form_id]
        if "filtering" in query:
            since = json.loads(query["filtering"])[0]["value"]
            ids = [i for i in ids if self.leads[i].get("_time", 0) > since]
        start = int(query.get("after", 0))
        page = ids[start : start + self.page_size]
        data = [{k: v for k, v in self.leads[i].items() if k != "_time"} for i in page]
        answer = {"data": data, "paging": {"cursors": {"after": str(start + len(page))}}}
        if start + self.page_size < len(ids):
            rest = {k: v for k, v in query.items() if k != "after"}
            rest["after"] = start + self.page_size
            answer["paging"]["next"] = f"{self.url}/{form_id}/leads?{urlencode(rest)}"
        return answer

    def add(self, leadgen_id, form_id: str = "", created: int = 0, **answers) -> None:
        self.leads[str(leadgen_id)] = {**graph_lead(leadgen_id, **answers), "_time": created}
        if form_id:
            self.leads[str(leadgen_id)]["form_id"] = form_id
            self.forms.setdefault(form_id, []).append(str(leadgen_id))

    def lead_reads(self) -> list[str]:
        return [path for path, _q in self.requests if path.count("/") == 2]


@contextmanager
def graph_api(settings):
    """A running stand-in Graph API, with LEADLOOP_FACEBOOK_GRAPH_URL pointing at it."""
    api = GraphApi()
    api.start()
    settings.LEADLOOP_FACEBOOK_GRAPH_URL = api.url
    try:
        yield api
    finally:
        api.stop()


def google(lead_id="TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ", **overrides) -> dict:
    return {
        "lead_id": lead_id,
        "api_version": "1.0",
        "form_id": 40000000000,
        "campaign_id": 12345678901,
        "adgroup_id": 20000000000,
        "creative_id": 30000000000,
        "gcl_id": "Cj0KCQiA-gclid",
        "google_key": SECRETS["google"]["google_key"],
        "is_test": False,
        "user_column_data": [
            {"column_id": "FULL_NAME", "column_name": "Full Name", "string_value": "Lê Văn Tám"},
            {"column_id": "PHONE_NUMBER", "string_value": "+84 912 345 678"},
            {"column_id": "EMAIL", "string_value": "tam@example.com"},
            {"column_id": "CITY", "string_value": "Đà Nẵng"},
            {"column_id": "COMPANY_NAME", "string_value": "Công ty TNHH Ánh Dương"},
            {"column_id": "JOB_TITLE", "string_value": "Giám đốc"},
        ],
        **overrides,
    }


def zalo(event="user_submit_info", sender="2468458835296117922", timestamp="1795000000123", **info):
    payload = {
        "app_id": SECRETS["zalo"]["app_id"],
        "user_id_by_app": "5521772797175877300",
        "event_name": event,
        "timestamp": timestamp,
        "sender": {"id": sender},
        "recipient": {"id": "388613280878808645"},
    }
    if event == "user_submit_info":
        payload["info"] = {
            "name": "Hoàng Thị Lan",
            "phone": "84912345679",
            "address": "12 Nguyễn Trãi",
            "ward": "Phường Bến Thành",
            "district": "Quận 1",
            "city": "Hồ Chí Minh",
            **info,
        }
    return payload
