"""Notifications by e-mail for the members who ask for it, sent once by the worker."""

import os
import subprocess
import sys

import pytest
from django.core import mail

from leadloop.core.services import member_update
from leadloop.notifications.models import Notification
from leadloop.notifications.services import notifications_email
from leadloop.notifications.tasks import notifications_email_task
from tests.notifications.support import notify
from tests.web.leads import capture


def wants_email(member, language: str = ""):
    member.email_notifications = True
    member.language = language
    member.save(update_fields=["email_notifications", "language"])
    return member


def test_a_new_lead_is_e_mailed_to_an_owner_who_asked(
    team, worker, django_capture_on_commit_callbacks, settings
):
    settings.LEADLOOP_BASE_URL = "https://crm.example.com"
    wants_email(team.members["sales"], "en")
    member_update(member=team.members["sales2"], actor=team.actors["admin"], active=False)
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture(team, full_name="Nguyễn Văn An")
    assert lead.owner == team.members["sales"]
    [message] = mail.outbox
    note = Notification.objects.get(member=team.members["sales"])
    assert message.to == ["sales@acme.test"]
    assert message.subject == f"LeadLoop: {note.message}"
    assert "Nguyễn Văn An" in message.body
    assert f"https://crm.example.com/leads/{lead.pk}/" in message.body
    assert "https://crm.example.com/profile/" in message.body
    assert "you asked for every LeadLoop notification of Acme by e-mail" in message.body
    assert note.emailed_at is not None


def test_members_who_did_not_ask_get_no_e_mail(team, worker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        capture(team, owner="sales")
        notify(team.members["manager"])
    assert mail.outbox == []
    assert not Notification.objects.filter(emailed_at__isnull=False).exists()


def test_the_e_mail_speaks_the_members_language_without_links_by_default(team):
    sales = wants_email(team.members["sales"])  # no language: the workspace's (Vietnamese)
    note = notify(sales, "Lead mới cho bạn: An", publish=False)
    assert notifications_email(notification_ids=[note.pk]) == 1
    [message] = mail.outbox
    assert "bạn nhận e-mail này" in message.body
    assert "http" not in message.body


def test_a_task_run_twice_sends_once(team):
    sales = wants_email(team.members["sales"])
    notes = [notify(sales, f"#{n}", publish=False) for n in range(2)]
    ids = [n.pk for n in notes]
    assert notifications_email_task.call_local(ids) == 2
    assert notifications_email_task.call_local(ids) == 0
    assert [m.subject for m in mail.outbox] == ["LeadLoop: #0", "LeadLoop: #1"]


def test_a_member_who_turned_e_mail_off_meanwhile_gets_none(team):
    sales = wants_email(team.members["sales"])
    note = notify(sales, publish=False)
    sales.email_notifications = False
    sales.save(update_fields=["email_notifications"])
    assert notifications_email(notification_ids=[note.pk]) == 0
    assert mail.outbox == []


def test_a_failed_send_is_released_for_the_retry(team, monkeypatch):
    sales = wants_email(team.members["sales"])
    note = notify(sales, publish=False)

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("smtp is down")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMessage.send", refuse)
        with pytest.raises(ConnectionRefusedError):
            notifications_email(notification_ids=[note.pk])
    note.refresh_from_db()
    assert note.emailed_at is None
    assert notifications_email(notification_ids=[note.pk]) == 1


def _email_settings(**environment) -> list[str]:
    code = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, "
        "s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.DEFAULT_FROM_EMAIL, sep='|')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadloop.config.settings", **environment}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().split("|")


def test_e_mail_settings_come_from_the_environment():
    assert _email_settings()[0] == "django.core.mail.backends.console.EmailBackend"
    smtp = _email_settings(
        LEADLOOP_SMTP_HOST="smtp.example.com",
        LEADLOOP_SMTP_USER="crm",
        LEADLOOP_SMTP_PASSWORD="secret",
        LEADLOOP_EMAIL_FROM="CRM <crm@example.com>",
    )
    assert smtp == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "crm",
        "secret",
        "True",
        "False",
        "CRM <crm@example.com>",
    ]
    ssl = _email_settings(LEADLOOP_SMTP_HOST="smtp.example.com", LEADLOOP_SMTP_TLS="ssl")
    assert ssl[2:3] + ssl[5:7] == ["465", "False", "True"]
    plain = _email_settings(
        LEADLOOP_SMTP_HOST="relay", LEADLOOP_SMTP_PORT="25", LEADLOOP_SMTP_TLS="0"
    )
    assert plain[2:3] + plain[5:7] == ["25", "False", "False"]
