"""De-duplication benchmark on a large contact table; never part of `make test`.

    python bench/dedupe.py                        # 1,000,000 contacts, SQLite under var/bench/
    DATABASE_URL=postgres://... python bench/dedupe.py --contacts 1000000

Fills a workspace `bench-dedupe-<N>` with N synthetic Vietnamese contacts by bulk insert
(COPY on PostgreSQL, executemany in large transactions on SQLite), not through the capture
engine; a second run on the same database reuses them. Then it times, one call at a time:

  match   `contacts_matching` for one submission (the capture engine's phone/e-mail look-up):
          half known phones, a quarter known e-mails, a quarter unknown people.
  fuzzy   `duplicates_find` for one new contact that resembles an existing one (similar name,
          phone one digit off, or the same e-mail name at another domain), pairs written.

and prints one JSON line with p50/p95/p99 in milliseconds. Budget (issue 3): match p95 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import FAMILY, GIVEN, MIDDLE, PREFIXES, fold  # bench/ is not a package
from local import django_on

BUDGET_MATCH_P95_MS = 5.0
DOMAINS = ["gmail.com"] * 6 + ["yahoo.com", "outlook.com", "icloud.com", "fpt.vn"]
COLUMNS = (
    "workspace_id", "full_name", "phone_raw", "phone_e164", "phone_valid", "email",
    "email_valid", "search_key", "phone_head", "phone_tail", "email_local", "created_at",
)  # fmt: skip
PREFIX_LIST = sorted(set(PREFIXES))
STEP = 7919  # prime, so i -> i * STEP mod 10**7 is one-to-one: distinct phone numbers


def person(i: int) -> tuple[str, str, str]:
    """(name, national phone, e-mail or '') of contact i: deterministic, phones all distinct."""
    rng = random.Random(i)
    sex = rng.choice("mf")
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
    prefix = PREFIX_LIST[i % len(PREFIX_LIST)]
    national = f"0{prefix}{(i // len(PREFIX_LIST) * STEP) % 10**7:07d}"
    email = ""
    if rng.random() < 0.6:
        email = f"{fold(name).replace(' ', '.')}.{i}@{rng.choice(DOMAINS)}"
    return name, national, email


def row(workspace_id: int, i: int, now: datetime) -> tuple:
    name, national, email = person(i)
    e164 = "+84" + national[1:]
    local = email.partition("@")[0]
    key = " ".join(p for p in (fold(name), national, email) if p)
    return (
        workspace_id, name, national, e164, True, email, bool(email), key,
        e164[:-4], e164[-4:], local, now,
    )  # fmt: skip


def fill(workspace, count: int) -> float:
    from django.db import connection, transaction

    from leadloop.contacts.models import Contact

    have = Contact.objects.filter(workspace=workspace).count()
    if have >= count:
        return 0.0
    started, now = time.perf_counter(), datetime.now(UTC)
    table = Contact._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for i in range(have, count):
                    copy.write_row(row(workspace.pk, i, now))
            cursor.execute(f"ANALYZE {table}")
    else:
        sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        for start in range(have, count, 50_000):
            with transaction.atomic(), connection.cursor() as cursor:
                rows = [row(workspace.pk, i, now) for i in range(start, min(count, start + 50_000))]
                cursor.executemany(sql.replace("?", "%s"), rows)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)  # noqa: E731
    return {
        "n": len(samples),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
    }


def bench_match(workspace, count: int, runs: int, rng: random.Random) -> dict:
    from leadloop.contacts.services import Identity, contacts_found, contacts_matching

    samples, hits = [], 0
    for _ in range(runs):
        name, national, email = person(rng.randrange(count))
        kind = rng.random()
        if kind < 0.5:
            who = Identity.clean(name=name, phone=national, email="")
        elif kind < 0.75 and email:
            who = Identity.clean(name=name, phone="", email=email)
        else:
            who = Identity.clean(name=name, phone=f"0599{rng.randrange(10**6):06d}", email="")
        started = time.perf_counter()
        found = contacts_found(contacts_matching(workspace=workspace, who=[who]))
        samples.append(time.perf_counter() - started)
        hits += bool(found)
    return {**percentiles(samples), "found": hits}


def bench_fuzzy(workspace, count: int, runs: int, rng: random.Random) -> dict:
    from leadloop.contacts.models import Contact, PossibleDuplicate
    from leadloop.contacts.services import Identity, contact_new, duplicates_find

    probes = []
    for n in range(runs):
        name, national, email = person(rng.randrange(count))
        if n % 2:  # phone one digit off, same name without accents
            digit = str((int(national[-3]) + 1) % 10)
            phone = national[:-3] + digit + national[-2:]
            who = Identity.clean(name=fold(name), phone=phone, email="")
        else:  # the same e-mail name at another domain (or a fresh address)
            local = email.partition("@")[0] or f"probe.{n}"
            who = Identity.clean(name=name, phone="", email=f"{local}@probe-{n}.vn")
        probes.append(contact_new(workspace=workspace, who=who))
    taken = set(
        Contact.objects.filter(
            workspace=workspace, phone_valid=True, phone_e164__in=[p.phone_e164 for p in probes]
        ).values_list("phone_e164", flat=True)
    )
    unique = {}
    for probe in probes:  # a number one digit off may exist already: that one is no new contact
        if not (probe.phone_valid and probe.phone_e164 in taken):
            unique.setdefault(probe.phone_e164 or probe.email, probe)
    probes = Contact.objects.bulk_create(list(unique.values()))
    samples, pairs = [], 0
    try:
        for probe in probes:
            started = time.perf_counter()
            pairs += duplicates_find(workspace=workspace, contacts=[probe])
            samples.append(time.perf_counter() - started)
    finally:
        ids = [p.pk for p in probes]
        PossibleDuplicate.objects.filter(contact_id__in=ids).delete()
        PossibleDuplicate.objects.filter(other_id__in=ids).delete()
        Contact.objects.filter(pk__in=ids).delete()
    return {**percentiles(samples), "pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2000, help="timed look-ups per phase")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    django_on("dedupe.sqlite3")
    from django.core.management import call_command
    from django.db import connection

    from leadloop.core.models import Workspace
    from leadloop.core.services import workspace_create

    call_command("migrate", verbosity=0)
    slug = f"bench-dedupe-{args.contacts}"
    workspace = Workspace.objects.filter(slug=slug).first() or workspace_create(slug=slug)
    fill_s = fill(workspace, args.contacts)
    rng = random.Random(args.seed)
    match = bench_match(workspace, args.contacts, args.runs, rng)
    fuzzy = bench_fuzzy(workspace, args.contacts, min(args.runs, 1000), rng)
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "contacts": args.contacts,
                "fill_s": round(fill_s, 1),
                "match": match,
                "fuzzy": fuzzy,
                "match_p95_budget_met": match["p95_ms"] <= BUDGET_MATCH_P95_MS,
                "python": platform.python_version(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()
