"""The capture engine in this process, no HTTP: CPU and time a lead; never part of `make test`.

    python bench/capture.py                               # SQLite under var/bench/
    DATABASE_URL=postgres://... python bench/capture.py --batch 1 --batches 400

Migrates the database, makes a workspace `bench-capture-<time>` with five sales reps, captures
`--batches` batches of `--batch` generated submissions (`leads_capture`, as a single POST's
group commit or a bulk request does) after a few unmeasured ones, and prints one JSON object:
this process's CPU (`python_ms_per_lead`), the database backend's CPU (`database_ms_per_lead`,
PostgreSQL on this machine only, read from /proc) and the time (`wall_ms_per_batch`). With
`--batch 1` it is what one lead costs the web process and PostgreSQL beyond HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import Generator  # bench/ is not a package
from local import django_on


def backend_cpu_s(pid: int | None) -> float:
    """User + system CPU of one PostgreSQL backend (on this machine), in seconds."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup():
    from django.core.management import call_command

    from leadloop.core.access import Actor
    from leadloop.core.services import member_create, workspace_create

    call_command("migrate", verbosity=0)
    workspace = workspace_create(slug=f"bench-capture-{int(time.time())}", name="Bench")
    for n in range(5):
        member_create(
            workspace=workspace,
            actor=Actor.system(workspace),
            email=f"sales{n}@bench.test",
            full_name=f"Sales {n}",
            role="sales",
        )
    return workspace


def submissions(generator: Generator, size: int) -> list:
    from leadloop.intake.services import Submission

    plain = ("full_name", "phone", "email", "source", "campaign", "external_id")
    return [
        (
            Submission(
                **{name: body[name] for name in plain if name in body},
                fields=body["fields"],
                utm={name: value for name, value in body.items() if name.startswith("utm_")},
            ),
            body,
        )
        for body in generator.batch(size)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1, help="submissions a capture")
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of repeat people")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    django_on("capture.sqlite3")
    from django.db import connection

    from leadloop.core.access import Actor
    from leadloop.intake.services import leads_capture

    workspace = setup()
    actor = Actor.system(workspace)
    generator = Generator(seed=args.seed, duplicates=args.duplicates)
    batches = [submissions(generator, args.batch) for _ in range(args.batches + 20)]
    for batch in batches[:20]:  # warm: caches, the first statistics
        leads_capture(workspace=workspace, actor=actor, submissions=batch)
    pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    cpu, database, started = time.process_time(), backend_cpu_s(pid), time.perf_counter()
    for batch in batches[20:]:
        leads_capture(workspace=workspace, actor=actor, submissions=batch)
    wall, leads = time.perf_counter() - started, args.batches * args.batch
    result = {
        "database": connection.vendor,
        "batch": args.batch,
        "batches": args.batches,
        "duplicates": args.duplicates,
        "python_ms_per_lead": round((time.process_time() - cpu) / leads * 1000, 3),
        "database_ms_per_lead": round((backend_cpu_s(pid) - database) / leads * 1000, 3)
        if pid
        else None,
        "wall_ms_per_batch": round(wall / args.batches * 1000, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
