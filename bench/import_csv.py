"""Import benchmark: a generated CSV through `leadloop import`; never part of `make test`.

    python bench/import_csv.py --rows 1000000            # SQLite file under var/bench/
    DATABASE_URL=postgres://... python bench/import_csv.py --rows 1000000

Writes a CSV of realistic Vietnamese leads (bench/generate.py's Generator: name variants, phone
written forms, 10 % repeated people, 6 % wrong numbers; UTF-8, comma) under var/bench/, migrates,
creates a fresh workspace `import-<time>` with five sales reps, then runs `leadloop import` as a
child process and measures its wall time and peak memory (the resident memory of that process
and its children together, sampled every 0.2 s). Prints the summary line, rows/s and MB, and
whether the budgets hold.

Budgets (issue 3): 1,000,000 rows in ≤ 120 s on PostgreSQL, ≤ 180 s on SQLite; peak ≤ 500 MB.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import Generator  # bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "var" / "bench"
HEADER = [
    "Họ và tên",
    "Số điện thoại",
    "Email",
    "Nguồn",
    "Chiến dịch",
    "Quận",
    "Sản phẩm",
    "Ngân sách",
]
BUDGET_S = {"postgresql": 120, "sqlite": 180}
BUDGET_MB = 500
REPS = """
from leadloop.core.access import Actor
from leadloop.core.models import Workspace
from leadloop.core.services import member_create
ws = Workspace.objects.get(slug={slug!r})
for i in range(1, 6):
    member_create(workspace=ws, actor=Actor.system(ws), email=f"sales{{i}}@{slug}.bench",
                  full_name=f"Sales {{i}}", role="sales", team="Sales", password=None)
"""


def generate(path: Path, rows: int, seed: int) -> None:
    generator = Generator(seed=seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for _ in range(rows):
            body = generator.body()
            extra = body["fields"]
            writer.writerow(
                [body["full_name"], body["phone"], body["email"], body["source"],
                 body["campaign"], extra["district"], extra["product"], extra["budget"]]
            )  # fmt: skip


def leadloop(env: dict, *args: str) -> str:
    script = Path(sys.executable).parent / "leadloop"
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"leadloop {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (an import on PostgreSQL starts two)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue  # ended meanwhile
        if int(status.parent.name) == pid or int(fields["PPid"]) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total


def measured(env: dict, *args: str) -> tuple[str, str, int, float, float]:
    """Run `leadloop ARGS`; (stdout, stderr, exit status, seconds, peak RSS in MB of the
    process and its children together, sampled every 0.2 s)."""
    script = Path(sys.executable).parent / "leadloop"
    out, err = BENCH / "import.out", BENCH / "import.err"
    peak_kb = 0
    started = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([str(script), *args], env=env, stdout=stdout, stderr=stderr)
        while proc.poll() is None:
            peak_kb = max(peak_kb, tree_rss_kb(proc.pid))
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    return out.read_text(), err.read_text(), proc.returncode, seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV")
    args = parser.parse_args()
    BENCH.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LEADLOOP_HTTPS": "0"}
    env.setdefault("LEADLOOP_VAR_DIR", str(BENCH))  # its queued tasks stay out of var/
    env.setdefault("DATABASE_URL", f"sqlite:///{BENCH / 'import.sqlite3'}")
    database = "postgresql" if env["DATABASE_URL"].startswith("postgres") else "sqlite"

    path = BENCH / f"leads-{args.rows}.csv"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.rows, args.seed)
        print(f"generated {path} ({path.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip
    leadloop(env, "migrate", "--noinput", "-v0")
    slug = f"import-{int(time.time())}"
    leadloop(env, "workspace", "create", slug, "--name", "Import bench")
    leadloop(env, "shell", "-c", REPS.format(slug=slug))

    out, err, status, seconds, peak_mb = measured(
        env, "import", str(path), "--workspace", slug, "--origin", "benchmark"
    )
    if status:
        raise SystemExit(f"leadloop import failed ({status}):\n{err[-3000:]}")
    result = {
        "database": database,
        "rows": args.rows,
        "summary": out.strip(),
        "seconds": round(seconds, 1),
        "rows_per_s": round(args.rows / seconds),
        "peak_rss_mb": round(peak_mb),
        "cpus": os.cpu_count(),
    }
    scaled = seconds * 1_000_000 / args.rows
    result["budget_1m_s"] = BUDGET_S[database]
    result["projected_1m_s"] = round(scaled)
    result["within_budget"] = scaled <= BUDGET_S[database] and peak_mb <= BUDGET_MB
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
