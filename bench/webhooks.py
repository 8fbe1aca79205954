"""Webhook benchmark: acknowledgement latency of /hooks/<ws>/facebook and /google under a steady
rate, and how soon the worker turns the deliveries into leads. Never part of `make test`.

    python bench/webhooks.py                      # 100 deliveries/s for 20 s per provider
    python bench/webhooks.py --rate 200 --duration 10 --providers google

It starts everything itself, on 127.0.0.1 only: `leadloop migrate`, a workspace `whbench-<time>`
with an admin token (CLI), five sales reps and the Facebook and Google channels (API), a stand-in
Graph API (a thread in this process, answering every lead id with generated Vietnamese answers),
then `leadloop serve --workers N` and `leadloop worker` with LEADLOOP_FACEBOOK_GRAPH_URL pointing
at the stand-in and the current DATABASE_URL (when unset: var/bench/bench.sqlite3). Both are
stopped at the end.

Each provider gets its own open-loop phase (delivery i is due at i / rate seconds, sent from a
pool of threads): the figures are the acknowledgement latency (p50/p95/p99/max), errors, then the
seconds until the worker has made every lead (read through GET /api/v1/leads?source=...).
A share of the deliveries (--redeliveries) repeats an earlier one, as Facebook does; they must
not make leads. --no-worker measures the acknowledgements alone (the deliveries wait, stored).

Budget (issue): acknowledgement p99 ≤ 50 ms at 100 deliveries/s, Facebook and Google.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import Generator  # bench/ is not a package
from intake import (
    ROOT,
    Poster,
    Server,
    _leadloop,
    add_sales_reps,
    group_cpu_seconds,
    machine_busy,
    percentile,
    stop_group,
)

BUDGET_P99_MS = 50
APP_SECRET, GOOGLE_KEY, PAGE_TOKEN = "bench-app-secret", "bench-google-key", "bench-page-token"


# ------------------------------------------------------------------ payloads


class Payloads:
    """Facebook notifications (answers served by the stand-in Graph API) and Google lead forms."""

    def __init__(self, seed: int):
        self.people = Generator(seed=seed, duplicates=0.0, bad=0.0)
        self.rng = random.Random(seed)
        self.answers: dict[str, dict] = {}  # leadgen id -> the Graph API's answer
        self.lock = threading.Lock()

    def facebook(self, serial: int) -> tuple[bytes, dict]:
        leadgen_id = str(10**15 + serial * 7919 + self.rng.randrange(7919))
        person = self.people.body()
        fields = {
            "full_name": person["full_name"],
            "phone_number": person["phone"],
            "email": person["email"],
            "quan_huyen": person["fields"]["district"],
        }
        answer = {
            "id": leadgen_id,
            "field_data": [{"name": k, "values": [v]} for k, v in fields.items() if v],
        }
        with self.lock:
            self.answers[leadgen_id] = answer
        now = int(time.time())
        value = {"leadgen_id": int(leadgen_id), "page_id": 4455, "form_id": 8800 + serial % 3,
                 "ad_id": 6600 + serial % 7, "adgroup_id": 7700, "created_time": now}  # fmt: skip
        body = {"object": "page", "entry": [{"id": "4455", "time": now,
                "changes": [{"field": "leadgen", "value": value}]}]}  # fmt: skip
        data = json.dumps(body).encode()
        digest = hmac.new(APP_SECRET.encode(), data, hashlib.sha256).hexdigest()
        return data, {"X-Hub-Signature-256": f"sha256={digest}"}

    def google(self, serial: int, person: dict | None = None) -> tuple[bytes, dict]:
        """A Google lead form delivery of `person` (a `Generator.body()`; a new one if None)."""
        person = person or self.people.body()
        columns = [("FULL_NAME", person["full_name"]), ("PHONE_NUMBER", person["phone"]),
                   ("EMAIL", person["email"]), ("CITY", person["fields"]["district"])]  # fmt: skip
        body = {
            "lead_id": f"bench-{serial}-{self.rng.randrange(10**9)}",
            "api_version": "1.0",
            "form_id": 40000 + serial % 3,
            "campaign_id": 12000 + serial % 5,
            "gcl_id": f"gclid-{serial}",
            "google_key": GOOGLE_KEY,
            "is_test": False,
            "user_column_data": [{"column_id": c, "string_value": v} for c, v in columns if v],
        }
        return json.dumps(body, ensure_ascii=False).encode(), {}


class Worker:
    """A `leadloop worker` process group started by this script, stopped by its own id."""

    def __init__(self, env: dict, log: Path | None = None):
        self.env, self.log = env, log or ROOT / "var" / "bench" / "worker.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [*_leadloop(), "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        stop_group(self.proc, timeout=30)

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.proc)


class GraphStandIn:
    """GET /{leadgen_id} → the generated answer, on 127.0.0.1 in a thread of this process."""

    def __init__(self, payloads: Payloads):
        answers = payloads.answers

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                lead = answers.get(self.path.split("?")[0].rsplit("/", 1)[-1])
                data = json.dumps(lead or {"error": {"code": 100}}).encode()
                self.send_response(200 if lead else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v21.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# ------------------------------------------------------------------ measuring


@dataclass
class Phase:
    provider: str
    target_rate: float
    duration_s: float
    concurrency: int
    sent: int = 0
    redeliveries: int = 0
    ok: int = 0
    errors: dict = field(default_factory=dict)
    achieved_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    behind_schedule_s: float = 0.0
    machine_cpu_busy: float = 0.0
    leads_expected: int = 0
    leads_made: int = 0
    processed_after_s: float | None = None  # from the last acknowledgement to the last lead
    with_worker: bool = True

    def verdict(self) -> str:
        kept_up = self.behind_schedule_s < 1 and not self.errors and self.sent
        none_lost = not self.with_worker or self.leads_made == self.leads_expected
        met = self.target_rate >= 100 and self.p99_ms <= BUDGET_P99_MS and kept_up and none_lost
        return "PASS" if met else "MISS"


def leads_of(url: str, token: str, source: str) -> int:
    response = httpx.get(
        f"{url}/api/v1/leads",
        params={"source": source, "page_size": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["total"]


def run_phase(args, url: str, slug: str, token: str, provider: str, payloads: Payloads) -> Phase:
    phase = Phase(provider, args.rate, args.duration, args.concurrency)
    phase.with_worker = not args.no_worker
    total = int(args.rate * args.duration)
    rng = random.Random(args.seed)
    made = getattr(payloads, provider)
    bodies: list[tuple[bytes, dict]] = []
    for i in range(total):
        repeat = bodies and rng.random() < args.redeliveries
        bodies.append(rng.choice(bodies) if repeat else made(i))
    phase.leads_expected = len({body for body, _headers in bodies})
    phase.redeliveries = total - phase.leads_expected
    latencies, lags, lock = [], [], threading.Lock()
    cursor = iter(range(total))
    hook = f"/hooks/{slug}/{provider}"

    def worker() -> None:
        client = Poster(url, {})
        while (index := next(cursor, None)) is not None:
            due = start + index / args.rate
            if (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            body, headers = bodies[index]
            status, _answer = client.post(hook, body, headers)
            done = time.perf_counter()
            with lock:
                phase.sent += 1
                lags.append(sent - due)
                if status == 200:
                    phase.ok += 1
                    latencies.append((done - sent) * 1000)
                else:
                    phase.errors[str(status)] = phase.errors.get(str(status), 0) + 1
        client.close()

    before = leads_of(url, token, provider)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    busy0 = machine_busy()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.duration + 60)
    acknowledged = time.perf_counter()
    busy1 = machine_busy()
    phase.machine_cpu_busy = round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 3)
    phase.achieved_rate = round(phase.ok / max(acknowledged - start, 1e-9), 1)
    if latencies:
        phase.p50_ms, phase.p95_ms = (
            round(percentile(latencies, 50), 1),
            round(percentile(latencies, 95), 1),
        )
        phase.p99_ms, phase.max_ms = round(percentile(latencies, 99), 1), round(max(latencies), 1)
    phase.behind_schedule_s = round(max(lags, default=0.0), 2)
    deadline = acknowledged + (0 if args.no_worker else args.drain_timeout)
    while time.perf_counter() < deadline:
        phase.leads_made = leads_of(url, token, provider) - before
        if phase.leads_made >= phase.leads_expected:
            phase.processed_after_s = round(time.perf_counter() - acknowledged, 1)
            break
        time.sleep(0.5)
    return phase


# ------------------------------------------------------------------ the command


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--rate", type=float, default=100, help="deliveries per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds per provider")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads")
    parser.add_argument("--providers", default="facebook,google")
    parser.add_argument("--redeliveries", type=float, default=0.05, help="share of repeats")
    parser.add_argument("--drain-timeout", type=float, default=120, help="max wait for leads")
    parser.add_argument("--no-worker", action="store_true", help="acknowledgements alone")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def setup_channels(
    url: str, token: str, slug: str, kinds: tuple[str, ...] = ("facebook", "google")
) -> None:
    """Five sales reps and a channel of each of `kinds` (facebook, google) in the workspace."""
    add_sales_reps(url, token, slug)
    channels = {
        "facebook": {
            "verify_token": "bench",
            "app_secret": APP_SECRET,
            "page_access_token": PAGE_TOKEN,
        },
        "google": {"google_key": GOOGLE_KEY},
    }
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for kind in kinds:
            settings = channels[kind]
            body = {"kind": kind, "name": f"Bench {kind}", "settings": settings}
            response = client.post(f"{url}/api/v1/channels", json=body)
            if response.status_code != 201:
                raise SystemExit(f"could not create the {kind} channel: {response.text}")


def main() -> None:
    args = _arguments()
    payloads = Payloads(args.seed)
    graph = GraphStandIn(payloads)
    bench_dir = ROOT / "var" / "bench"
    env = {**os.environ, "LEADLOOP_HTTPS": "0", "LEADLOOP_FACEBOOK_GRAPH_URL": graph.url}
    own_queue = "LEADLOOP_VAR_DIR" not in env and not env.get("REDIS_URL")  # not someone's Redis
    env.setdefault("LEADLOOP_VAR_DIR", str(bench_dir))  # its queue too
    if not env.get("DATABASE_URL"):
        bench_dir.mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{bench_dir / 'bench.sqlite3'}"
    server = Server(args.port, args.workers, env)
    server.cli("migrate", "--noinput", "-v0")
    if own_queue:  # tasks other benchmarks left (bench/intake.py runs no worker) would go first
        server.cli("shell", "-c", "from huey.contrib.djhuey import HUEY; HUEY.flush()")
    slug = f"whbench-{int(time.time())}"
    server.cli("workspace", "create", slug, "--name", "Webhook bench")
    token = server.cli("token", "create", "--workspace", slug, "--name", "bench").strip()
    worker = None
    if not args.no_worker:
        worker = Worker(env)
        worker.start()
    phases = []
    try:
        server.start(token)
        setup_channels(server.url, token, slug)
        for provider in args.providers.split(","):
            phase = run_phase(args, server.url, slug, token, provider.strip(), payloads)
            phases.append(phase)
            print(json.dumps({**asdict(phase), "verdict": phase.verdict()}, ensure_ascii=False))
    finally:
        server.stop()
        if worker:
            worker.stop()
        graph.server.shutdown()
    database = env["DATABASE_URL"].split("://", 1)[0]
    summary = {"database": database, "rate": args.rate, "phases": [asdict(p) for p in phases]}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    for p in phases:
        print(f"{database} {p.provider}: {p.achieved_rate}/s p50 {p.p50_ms} ms p95 {p.p95_ms} ms "
              f"p99 {p.p99_ms} ms max {p.max_ms} ms errors {p.errors or 0}; leads "
              f"{p.leads_made}/{p.leads_expected} made {p.processed_after_s} s after the last "
              f"acknowledgement → {p.verdict()}")  # fmt: skip


if __name__ == "__main__":
    main()
