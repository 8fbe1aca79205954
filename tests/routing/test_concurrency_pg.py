"""Assignment and timers under concurrency, on PostgreSQL: real HTTP requests, real processes."""

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.models import Member
from leadloop.intake.services import Submission, leads_capture
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.routing.models import Timer
from tests.core.support import burst, database_url, phone, three_more_reps

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LEADLOOP = Path(sys.executable).with_name("leadloop")


def five_reps(team, capacity: int) -> list[Member]:
    three_more_reps(team)
    reps = Member.objects.filter(workspace=team.workspace, role="sales")
    reps.update(capacity=capacity)
    return list(reps)


def test_500_leads_from_20_threads_are_assigned_once_evenly_within_capacity(team, post):
    reps = five_reps(team, capacity=100)

    def twenty_five_leads(i: int) -> list[int]:
        return [post({"phone": phone(i * 25 + j)}).status_code for j in range(25)]

    statuses = burst(20, twenty_five_leads)
    assert [s for batch in statuses for s in batch] == [201] * 500
    owners = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert set(owners) == {rep.pk for rep in reps}
    assert max(owners.values()) - min(owners.values()) <= 1
    assert max(owners.values()) <= 100
    assigned = Counter(LeadEvent.objects.filter(kind="assigned").values_list("lead_id", flat=True))
    assert len(assigned) == 500 and set(assigned.values()) == {1}
    first_contacts = Counter(
        Timer.objects.filter(kind="first_contact").values_list("lead", flat=True)
    )
    assert len(first_contacts) == 500 and set(first_contacts.values()) == {1}


def test_a_full_team_queues_the_rest_instead_of_exceeding_capacity(team, post):
    five_reps(team, capacity=8)
    statuses = burst(
        10, lambda i: [post({"phone": phone(i * 5 + j)}).status_code for j in range(5)]
    )
    assert [s for batch in statuses for s in batch] == [201] * 50
    owners = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert owners.pop(None) == 10
    assert sorted(owners.values()) == [8] * 5
    assert Timer.objects.filter(kind="queue", fired_at__isnull=True).count() == 10


def overdue_leads(team, count: int) -> list[Lead]:
    """`count` assigned leads whose first contact was due an hour ago."""
    submissions = [(Submission(phone=phone(i)), None) for i in range(count)]
    with clock.travel(timedelta(hours=-1)):
        captured = leads_capture(
            workspace=team.workspace, actor=Actor.system(team.workspace), submissions=submissions
        )
    return [c.lead for c in captured]


def leadloop(*args, script: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url()}
    command = [sys.executable, "-c", script] if script else [str(LEADLOOP), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def assert_each_breach_told_once(leads: list[Lead], team) -> None:
    """Each member is told of each miss once: alone, or counted in a summary."""
    told, alone = Counter(), Counter()
    for lead_id, member_id, count in Notification.objects.filter(kind="sla_breach").values_list(
        "lead_id", "member_id", "count"
    ):
        told[member_id] += count
        alone[lead_id, member_id] += count == 1
    assert set(alone.values()) <= {0, 1}  # no lead told twice to one member
    expected = Counter(lead.owner_id for lead in leads)
    for manager in ("manager", "admin"):
        expected[team.members[manager].pk] += len(leads)
    assert told == expected
    assert not Timer.objects.filter(kind="first_contact", fired_at__isnull=True).exists()


@contextmanager
def started_together(table: str, sessions: int):
    """Processes started inside begin on `table` at the same instant: the table is locked until
    `sessions` of them wait for it (however long each took to start)."""
    with psycopg.connect(database_url()) as gate:
        gate.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        deadline = time.monotonic() + 60
        waiting = (  # in this test's database only: other test workers run beside it
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        while gate.execute(waiting, [table]).fetchone()[0] < sessions:
            assert time.monotonic() < deadline, f"{sessions} sessions never reached {table}"
            time.sleep(0.05)


def test_two_worker_processes_fire_every_due_timer_exactly_once(team):
    leads = overdue_leads(team, 600)
    with started_together(Timer._meta.db_table, sessions=2):
        workers = [leadloop("timers", "--drain") for _ in range(2)]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    fired = sorted(int(out.decode().split("fired=")[1]) for out, _err in outputs)
    assert sum(fired) == 600 and fired[0] > 0, fired  # both took a share, none twice
    assert_each_breach_told_once(leads, team)


KILLED_MIDWAY = textwrap.dedent(
    """
    import os, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.config.settings")
    django.setup()
    from leadloop.routing import sla
    calls = []
    real = sla._escalate
    def dying(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 50:
            os._exit(9)  # killed: no rollback handler, no cleanup
    sla._escalate = dying
    sla.timers_fire_due()
    """
)


def test_a_worker_killed_midway_loses_nothing_and_repeats_nothing(team):
    leads = overdue_leads(team, 120)
    killed = leadloop(script=KILLED_MIDWAY)
    _out, err = killed.communicate(timeout=120)
    assert killed.returncode == 9, err
    assert not Notification.objects.filter(kind="sla_breach").exists()  # rolled back
    assert Timer.objects.filter(kind="first_contact", fired_at__isnull=True).count() == 120
    survivor = leadloop("timers", "--drain")
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0 and b"fired=120" in out, err
    assert_each_breach_told_once(leads, team)
