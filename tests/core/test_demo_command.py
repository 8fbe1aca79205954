"""`leadloop demo`: a small run through the services, idempotent, with working logins."""

import io
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command
from django.db.models import Count, F
from django.test import Client

from leadloop.activities.models import Activity
from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.core import clock
from leadloop.core.demo import (
    DEMO_PASSWORD,
    STAFF,
    TZ,
    WORK_END,
    WORK_START,
    WORKSPACE_NAME,
    demo_email,
)
from leadloop.core.models import Member, Workspace
from leadloop.intake.models import Channel, Touch
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.routing.models import Timer

LEADS = 120


def run_demo(*args: str, leads: int = LEADS) -> str:
    out = io.StringIO()
    call_command("demo", "--leads", str(leads), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db) -> tuple[Workspace, str]:
    output = run_demo()
    return Workspace.objects.get(slug="demo"), output


def snapshot(workspace: Workspace) -> dict:
    return {
        "members": Member.objects.filter(workspace=workspace).count(),
        "leads": Lead.objects.filter(workspace=workspace).count(),
        "touches": Touch.objects.filter(workspace=workspace).count(),
        "activities": Activity.objects.filter(workspace=workspace).count(),
        "events": LeadEvent.objects.filter(workspace=workspace).count(),
    }


def check_members(workspace: Workspace) -> None:
    assert workspace.name == WORKSPACE_NAME
    members = Member.objects.filter(workspace=workspace).select_related("user")
    assert Counter(m.role for m in members) == {"admin": 1, "manager": 1, "marketer": 1, "sales": 5}
    assert {m.user.email for m in members} == {demo_email("demo", s.login) for s in STAFF}
    assert workspace.stages.filter(key__in=["new", "k1", "k3", "k4-1", "k4-2"]).count() == 5


def check_owners(leads) -> None:
    """Round robin to the sales reps; only leads of the night (or Sunday) wait for the shift."""
    assert set(leads.exclude(owner=None).values_list("owner__role", flat=True)) == {"sales"}
    for lead in leads.filter(owner=None):
        local = lead.created_at.astimezone(TZ)
        after_hours = local.weekday() == 6 or not WORK_START <= local.hour < WORK_END
        assert after_hours and lead.created_at > clock.now() - timedelta(hours=36), local


def check_leads(workspace: Workspace) -> None:
    leads = Lead.objects.filter(workspace=workspace)
    assert LEADS * 0.9 <= leads.count() <= LEADS * 1.2
    stages = set(leads.values_list("stage__key", flat=True))
    assert len(stages) >= 5, stages
    assert {"k1", "k4-1", "k4-2"} <= stages, stages
    assert set(leads.values_list("source__key", flat=True)) == {"facebook", "google", "website"}
    assert leads.exclude(campaign=None).values("campaign").distinct().count() >= 3
    now = clock.now()
    assert leads.filter(created_at__lt=now - timedelta(days=60)).exists()
    assert leads.filter(created_at__gt=now - timedelta(days=7)).exists()
    assert not leads.filter(created_at__gt=now).exists()
    assert not leads.filter(created_at__lt=now - timedelta(days=91)).exists()
    check_owners(leads)
    older = leads.filter(created_at__lt=now - timedelta(days=30))
    assert older.filter(stage__key="new").count() <= older.count() * 0.1  # worked by now


def check_duplicates(workspace: Workspace) -> None:
    leads = Lead.objects.filter(workspace=workspace)
    assert Touch.objects.filter(workspace=workspace).count() > leads.count()
    assert leads.annotate(n=Count("touches")).filter(n__gte=2).exists()
    assert LeadEvent.objects.filter(workspace=workspace, kind="touch").exists()
    contacts = Contact.objects.filter(workspace=workspace)
    assert contacts.filter(phone_valid=False).exists()  # wrong numbers: stored, flagged
    assert contacts.filter(phone_valid=True).exclude(phone_raw__startswith="0").exists()
    # mistyped numbers make second contacts that the duplicate queue shows
    pairs = PossibleDuplicate.objects.filter(workspace=workspace, reason="phone_typo")
    assert pairs.exists()
    form = Channel.objects.get(workspace=workspace, kind="form")  # a snippet to look at
    assert form.settings["consent_text"]


def check_call_histories(workspace: Workspace) -> None:
    calls = Activity.objects.filter(workspace=workspace, kind="call")
    assert calls.count() > LEADS
    assert {"no_answer", "wrong_number", "refused"} <= set(calls.values_list("outcome", flat=True))
    assert calls.filter(duration_s__gt=0).exists()
    assert not calls.filter(at__lt=F("lead__created_at")).exists()
    assert not calls.filter(at__gt=clock.now()).exists()
    assert not calls.exclude(member=F("lead__owner")).exists()
    assert LeadEvent.objects.filter(workspace=workspace, kind="stage").count() >= LEADS // 2
    closed = Lead.objects.filter(workspace=workspace, is_open=False)
    assert closed.exists()
    assert not closed.filter(closed_at=None).exists()


def test_the_demo_password_passes_the_configured_validators():
    validate_password(DEMO_PASSWORD)


def test_a_small_run_makes_a_lively_workspace(demo):
    workspace, output = demo
    check_members(workspace)
    check_leads(workspace)
    check_duplicates(workspace)
    check_call_histories(workspace)
    assert "http://127.0.0.1:8000/" in output
    for staff in STAFF:
        assert demo_email("demo", staff.login) in output
    assert DEMO_PASSWORD in output


def test_a_second_run_keeps_the_workspace_and_the_logins_work(db):
    run_demo(leads=40)
    workspace = Workspace.objects.get(slug="demo")
    before = snapshot(workspace)
    output = run_demo(leads=40)
    assert "already has" in output
    assert "sales5@demo.leadloop.vn" in output
    assert snapshot(workspace) == before
    assert Workspace.objects.filter(slug="demo").count() == 1
    for login in ("admin", "manager", "marketer", "sales1"):
        assert Client().login(username=demo_email("demo", login), password=DEMO_PASSWORD), login


def test_reset_recreates_it_without_duplicate_members(db):
    run_demo(leads=30)
    first = Workspace.objects.get(slug="demo").pk
    captured = (Contact, Touch, LeadEvent, Timer, Notification)  # no database constraint to it
    assert all(m.objects.filter(workspace_id=first).exists() for m in captured)
    output = run_demo("--reset", leads=30)
    assert "loaded" in output
    recreated = Workspace.objects.get(slug="demo")
    assert recreated.pk != first
    assert Member.objects.filter(workspace=recreated).count() == len(STAFF)
    assert Lead.objects.filter(workspace=recreated).count() >= 25
    assert not Lead.objects.filter(workspace_id=first).exists()
    assert [m.__name__ for m in captured if m.objects.filter(workspace_id=first).exists()] == []
    assert Client().login(username="sales2@demo.leadloop.vn", password=DEMO_PASSWORD)


def test_another_slug_gets_its_own_logins_and_the_port_is_printed(db, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    output = run_demo("--workspace", "thu-nghiem", leads=20)
    assert "http://127.0.0.1:8123/" in output
    assert "admin@thu-nghiem.leadloop.vn" in output
    assert Member.objects.filter(workspace__slug="thu-nghiem").count() == len(STAFF)


def test_a_bad_slug_is_a_command_error(db):
    with pytest.raises(CommandError):
        run_demo("--workspace", "Not A Slug", leads=5)
