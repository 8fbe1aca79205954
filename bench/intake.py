"""Intake benchmark against a running LeadLoop server; never part of `make test`.

    python bench/intake.py                                  # starts its own server (see below)
    python bench/intake.py --url http://127.0.0.1:8000 --token ll_...   # an already running one

Phases, each bounded in time:
  single  POST /api/v1/leads one lead at a time, at a target rate (open loop: request i is due at
          i / rate seconds) with a pool of threads, for --duration seconds; reports the achieved
          rate, p50/p95/p99 latency and errors.
  bulk    POST /api/v1/leads/bulk with --bulk-size leads per request; reports leads per second.

Without --url it starts a server itself: `leadloop migrate`, a fresh workspace `bench-<time>`
with an admin token (CLI) and five sales reps (API), then `leadloop serve --workers N` with
LEADLOOP_HTTPS=0 and the current DATABASE_URL (when unset: a SQLite file under var/bench/, so the
benchmark never writes into the development database). The server is stopped at the end.
Only 127.0.0.1 / localhost are accepted as targets.

Budgets (issue): single ≥ 200 leads/s with p95 ≤ 50 ms; bulk ≥ 3,000 leads/s (2-core machine,
PostgreSQL).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import Generator  # bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
BUDGET_RATE, BUDGET_P95_MS, BUDGET_BULK = 200, 50, 3000
MEASURE_POSTGRES = False  # set when the benchmarked database is a local PostgreSQL


# ------------------------------------------------------------------ the server


def _leadloop() -> list[str]:
    script = Path(sys.executable).parent / "leadloop"
    return [str(script)] if script.exists() else [sys.executable, "-m", "leadloop.cli"]


class Server:
    """A `leadloop serve` process group started by this script, stopped by its own id."""

    def __init__(self, port: int, workers: int, env: dict):
        self.port, self.workers, self.env = port, workers, env
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.log = ROOT / "var" / "bench" / f"server-{port}.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*_leadloop(), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode:
            raise SystemExit(f"leadloop {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def prepare(self) -> tuple[str, str]:
        """Migrate, create the bench workspace and an admin token; returns (slug, token)."""
        self.cli("migrate", "--noinput", "-v0")
        slug = f"bench-{int(time.time())}"
        self.cli("workspace", "create", slug, "--name", "Bench")
        token = self.cli(
            "token", "create", "--workspace", slug, "--name", "bench", "--role", "admin"
        ).strip()
        return slug, token

    def start(self, token: str) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [*_leadloop(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the server exited; see {self.log}")
                try:
                    if client.get(f"{self.url}/api/v1/stages").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"the server did not answer within 60 s; see {self.log}")

    def stop(self) -> None:
        stop_group(self.proc, timeout=15)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes so far (Linux /proc)."""
        return group_cpu_seconds(self.proc)


def stop_group(proc: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM the process group this script started as `proc` (start_new_session), then KILL."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def group_cpu_seconds(proc: subprocess.Popen | None) -> float:
    """User + system CPU so far of the live processes in the group `proc` leads (Linux /proc)."""
    return sum(group_cpu_by_process(proc).values())


def group_cpu_by_process(proc: subprocess.Popen | None) -> dict[int, float]:
    """The same, by process id."""
    if proc is None:
        return {}
    found, tick = {}, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(parts[2]) == proc.pid:  # process group id
            found[int(stat.parent.name)] = (int(parts[11]) + int(parts[12])) / tick
    return found


def busiest_share(before: dict[int, float], after: dict[int, float]) -> float | None:
    """The share of the CPU used between two readings that the busiest process used."""
    used = [seconds - before.get(pid, 0.0) for pid, seconds in after.items()]
    total = sum(used)
    return round(max(used) / total, 2) if total > 0 else None


def postgres_cpu_seconds() -> float | None:
    """CPU of all local `postgres` processes, reaped backends included (Linux /proc; read-only).

    Other sessions on the same server count too: run on an otherwise idle database server.
    """
    if not MEASURE_POSTGRES:
        return None
    total, found, tick = 0, False, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.find("(") + 1 : text.rfind(")")] != "postgres":
            continue
        found = True
        parts = text.rsplit(")", 1)[1].split()
        total += sum(int(x) for x in parts[11:15])  # utime, stime, cutime, cstime
    return total / tick if found else None


def add_sales_reps(url: str, token: str, slug: str, count: int = 5) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for i in range(1, count + 1):
            response = client.post(
                f"{url}/api/v1/members",
                json={"email": f"sales{i}@{slug}.bench", "full_name": f"Sales {i}",
                      "role": "sales", "team": "Sales"},
            )  # fmt: skip
            if response.status_code not in (201, 409):
                raise SystemExit(
                    f"could not add a sales rep: {response.status_code} {response.text}"
                )


# ------------------------------------------------------------------ a lean client


class Poster:
    """POSTs over one kept-alive HTTP/1.1 connection (the standard library's `http.client`).

    The load loops use it instead of httpx: on a two-core machine every millisecond of the
    bench's CPU is taken from the server it measures, and httpx costs several times more per
    request. A failed request opens a new connection; its error is returned as the status."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float = 10):
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port or 80, timeout
        self.headers = {"Content-Type": "application/json", **headers}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None):
        """(status code or error name, response body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", path, body, {**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return type(exc).__name__, b""

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ------------------------------------------------------------------ measuring


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, to compute utilisation over a phase."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


@dataclass
class SingleResult:
    target_rate: float
    duration_s: float
    concurrency: int
    sent: int = 0
    not_sent: int = 0  # due within the duration but not sent by its end: the server fell behind
    ok: int = 0
    created: int = 0
    joined: int = 0
    errors: dict = field(default_factory=dict)
    achieved_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    behind_schedule_s: float = 0.0  # the latest a request left after its due time
    client_cpu_s: float = 0.0
    server_cpu_ms_per_request: float = 0.0
    db_cpu_ms_per_request: float | None = None
    machine_cpu_busy: float = 0.0

    def verdict(self) -> str:
        kept_up = not self.not_sent and self.behind_schedule_s < 1 and not self.errors
        passed = self.target_rate >= BUDGET_RATE and self.p95_ms <= BUDGET_P95_MS and kept_up
        return "PASS" if passed else "MISS"


@dataclass
class BulkResult:
    batch_size: int
    batches: int
    concurrency: int
    leads: int = 0
    seconds: float = 0.0
    leads_per_s: float = 0.0
    batch_seconds: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    server_cpu_ms_per_lead: float = 0.0
    # the busiest server process's share of the server's CPU: near 1 when every request went
    # to one process (its connections were all accepted by one; one core, one interpreter lock)
    server_cpu_busiest_share: float | None = None
    db_cpu_ms_per_lead: float | None = None
    machine_cpu_busy: float = 0.0

    def verdict(self) -> str:
        return "PASS" if self.leads_per_s >= BUDGET_BULK and not self.errors else "MISS"


def _count(bag: dict, key) -> None:
    bag[str(key)] = bag.get(str(key), 0) + 1


def run_single(url, token, bodies, rate, duration, concurrency, server, idempotency=False):
    result = SingleResult(target_rate=rate, duration_s=duration, concurrency=concurrency)
    total = min(len(bodies), int(rate * duration))
    encoded = [json.dumps(b, ensure_ascii=False).encode() for b in bodies[:total]]
    latencies: list[float] = []
    lags: list[float] = []
    lock = threading.Lock()
    cursor = iter(range(total))
    last_done = [0.0]

    def worker() -> None:
        client = Poster(url, {"Authorization": f"Bearer {token}"})
        while True:
            with lock:
                index = next(cursor, None)
            if index is None or time.perf_counter() > deadline:
                client.close()
                return  # what is left at the deadline counts as not sent
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            extra = {"Idempotency-Key": f"bench-{index}-{start}"} if idempotency else {}
            status, _body = client.post("/api/v1/leads", encoded[index], extra)
            done = time.perf_counter()
            with lock:
                result.sent += 1
                lags.append(sent - due)
                last_done[0] = max(last_done[0], done)
                if status in (200, 201):
                    result.ok += 1
                    result.created += status == 201
                    result.joined += status == 200
                    latencies.append(done - sent)
                else:
                    _count(result.errors, status)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    cpu0, busy0, server0 = time.process_time(), machine_busy(), server.cpu_seconds()
    db0 = postgres_cpu_seconds()
    start = time.perf_counter()
    deadline = start + duration
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 60)
    busy1 = machine_busy()
    elapsed = max(last_done[0] - start, duration)
    result.not_sent = total - result.sent
    result.client_cpu_s = round(time.process_time() - cpu0, 2)
    result.machine_cpu_busy = round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 3)
    result.achieved_rate = round(result.ok / elapsed, 1)
    ms = [x * 1000 for x in latencies]
    if ms:
        result.p50_ms, result.p95_ms = round(percentile(ms, 50), 1), round(percentile(ms, 95), 1)
        result.p99_ms, result.max_ms = round(percentile(ms, 99), 1), round(max(ms), 1)
        result.mean_ms = round(statistics.fmean(ms), 1)
    result.behind_schedule_s = round(max(lags, default=0.0), 2)
    if server.proc and result.sent:
        used = server.cpu_seconds() - server0
        result.server_cpu_ms_per_request = round(used * 1000 / result.sent, 2)
    if db0 is not None and result.sent:
        result.db_cpu_ms_per_request = round((postgres_cpu_seconds() - db0) * 1000 / result.sent, 2)
    return result


def run_bulk(url, token, generator, size, batches, concurrency, server, budget_s):
    result = BulkResult(batch_size=size, batches=batches, concurrency=concurrency)
    payloads = [
        json.dumps({"leads": generator.batch(size)}, ensure_ascii=False).encode()
        for _ in range(batches)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lock = threading.Lock()
    cursor = iter(range(batches))
    stop_at = time.perf_counter() + budget_s

    def worker() -> None:
        with httpx.Client(headers=headers, timeout=budget_s + 30) as client:
            while time.perf_counter() < stop_at:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                began = time.perf_counter()
                try:
                    response = client.post(f"{url}/api/v1/leads/bulk", content=payloads[index])
                except httpx.HTTPError as exc:
                    with lock:
                        _count(result.errors, type(exc).__name__)
                    continue
                took = time.perf_counter() - began
                with lock:
                    if response.status_code != 200:
                        _count(result.errors, response.status_code)
                        continue
                    result.batch_seconds.append(round(took, 2))
                    for item in response.json()["results"]:
                        _count(result.statuses, item["status"])
                        result.leads += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    busy0, db0 = machine_busy(), postgres_cpu_seconds()
    server0 = group_cpu_by_process(server.proc)
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=budget_s + 60)
    result.seconds = round(time.perf_counter() - began, 2)
    busy1 = machine_busy()
    result.machine_cpu_busy = round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 3)
    result.leads_per_s = round(result.leads / max(result.seconds, 1e-9), 1)
    if server.proc and result.leads:
        server1 = group_cpu_by_process(server.proc)
        used = sum(server1.values()) - sum(server0.values())
        result.server_cpu_ms_per_lead = round(used * 1000 / result.leads, 2)
        result.server_cpu_busiest_share = busiest_share(server0, server1)
    if db0 is not None and result.leads:
        result.db_cpu_ms_per_lead = round((postgres_cpu_seconds() - db0) * 1000 / result.leads, 3)
    return result


# ------------------------------------------------------------------ the command


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="LeadLoop intake benchmark.", formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="a running server (127.0.0.1 only); else one is started")
    parser.add_argument("--token", help="an API token of a workspace with sales reps (with --url)")
    parser.add_argument("--start-server", action="store_true", help="(the default without --url)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--rate", type=float, default=200, help="single POSTs per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds of single POSTs")
    parser.add_argument("--concurrency", type=int, default=64, help="client threads")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of repeat people")
    parser.add_argument("--idempotency", action="store_true", help="send Idempotency-Key")
    parser.add_argument("--bulk-size", type=int, default=1000)
    parser.add_argument("--bulk-batches", type=int, default=5)
    parser.add_argument("--bulk-concurrency", type=int, default=1)
    parser.add_argument("--bulk-budget", type=float, default=120, help="max seconds of bulk")
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=600, help="hard stop of the run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.url:
        host = urlsplit(args.url).hostname or ""
        if host not in LOCAL_HOSTS:
            parser.error("the benchmark only targets 127.0.0.1 / localhost")
        if not args.token:
            parser.error("--url needs --token")
        args.url = args.url.rstrip("/")
    return args


def _describe(env: dict) -> dict:
    database = env.get("DATABASE_URL", "")
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "database": database.split("://", 1)[0] if database else "sqlite",
    }


def _postgres(value: float | None, unit: str) -> str:
    return "" if value is None else f"PostgreSQL CPU {value} ms/{unit}; "


def _busiest(share: float | None) -> str:
    return "" if share is None else f", {share:.0%} of it in the busiest server process"


def _print_single(r: SingleResult) -> None:
    print(
        f"\nsingle POST /api/v1/leads: target {r.target_rate:g}/s for {r.duration_s:g} s, "
        f"{r.concurrency} threads\n"
        f"  achieved {r.achieved_rate}/s  ({r.ok} ok: {r.created} new, {r.joined} joined; "
        f"errors {r.errors or 0}; {r.not_sent} not sent in time)\n"
        f"  latency ms  p50 {r.p50_ms}  p95 {r.p95_ms}  p99 {r.p99_ms}  max {r.max_ms}  "
        f"mean {r.mean_ms}\n"
        f"  at most {r.behind_schedule_s} s behind schedule; machine CPU busy "
        f"{r.machine_cpu_busy:.0%}; server CPU {r.server_cpu_ms_per_request} ms/request; "
        f"{_postgres(r.db_cpu_ms_per_request, 'request')}client CPU {r.client_cpu_s} s\n"
        f"  budget ≥ {BUDGET_RATE}/s with p95 ≤ {BUDGET_P95_MS} ms: {r.verdict()}"
    )


def _print_bulk(r: BulkResult) -> None:
    print(
        f"\nbulk POST /api/v1/leads/bulk: {r.batches} × {r.batch_size} leads, "
        f"{r.concurrency} at a time\n"
        f"  {r.leads} leads in {r.seconds} s = {r.leads_per_s} leads/s  "
        f"(batches {r.batch_seconds} s; statuses {r.statuses}; errors {r.errors or 0})\n"
        f"  machine CPU busy {r.machine_cpu_busy:.0%}; "
        f"{_postgres(r.db_cpu_ms_per_lead, 'lead')}server CPU {r.server_cpu_ms_per_lead} ms/lead"
        f"{_busiest(r.server_cpu_busiest_share)}\n"
        f"  budget ≥ {BUDGET_BULK} leads/s: {r.verdict()}"
    )


def main() -> int:
    args = _arguments()
    bench_dir = ROOT / "var" / "bench"
    env = dict(os.environ, LEADLOOP_HTTPS="0")
    env.setdefault("LEADLOOP_VAR_DIR", str(bench_dir))  # its queued tasks too
    if not env.get("DATABASE_URL"):
        bench_dir.mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{bench_dir / 'bench.sqlite3'}"
    global MEASURE_POSTGRES
    MEASURE_POSTGRES = env["DATABASE_URL"].startswith(("postgres", "postgresql"))
    server = Server(args.port, args.workers, env)
    watchdog = threading.Timer(args.max_seconds, lambda: (server.stop(), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    report: dict = {"setup": _describe(env if not args.url else os.environ)}
    try:
        if args.url:
            url, token = args.url, args.token
        else:
            slug, token = server.prepare()
            server.start(token)
            url = server.url
            add_sales_reps(url, token, slug)
            report["setup"] |= {"workspace": slug, "workers": args.workers}
            print(f"server: {url} ({args.workers} workers, {report['setup']['database']}), "
                  f"workspace {slug}")  # fmt: skip
        busy0 = machine_busy()
        time.sleep(2)  # what else the machine is doing (other processes) before we start
        busy1 = machine_busy()
        background = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1)
        report["setup"]["background_cpu_busy"] = round(background, 3)
        print(f"machine CPU busy before the run: {background:.0%}")
        generator = Generator(seed=args.seed, duplicates=args.duplicates)
        warmup = [generator.body() for _ in range(40)]
        run_single(url, token, warmup, 20, 2, 4, server)  # load code and connections
        if not args.skip_single:
            bodies = [generator.body() for _ in range(int(args.rate * args.duration))]
            single = run_single(url, token, bodies, args.rate, args.duration, args.concurrency,
                                server, idempotency=args.idempotency)  # fmt: skip
            _print_single(single)
            report["single"] = asdict(single) | {"verdict": single.verdict()}
        if not args.skip_bulk:
            bulk = run_bulk(url, token, generator, args.bulk_size, args.bulk_batches,
                            args.bulk_concurrency, server, args.bulk_budget)  # fmt: skip
            _print_bulk(bulk)
            report["bulk"] = asdict(bulk) | {"verdict": bulk.verdict()}
    finally:
        server.stop()
        watchdog.cancel()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
