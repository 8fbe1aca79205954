"""An import tells each rep once how many leads it gave them, not once per lead."""

from collections import Counter

from django.core import mail
from django.utils import translation

from leadloop.intake import imports
from leadloop.intake.imports import import_confirm, import_open, import_run
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead
from tests.intake.test_import_files import csv_text, write


def imported(team, tmp_path, rows: int):
    table = [["Họ tên", "SĐT"]] + [[f"Khách {n}", f"091{n:07d}"] for n in range(rows)]
    path = write(tmp_path, "hoi-cho.csv", csv_text(table).encode())
    actor = team.actors["marketer"]
    job = import_open(
        workspace=team.workspace, actor=actor, path=path, file_name="hội chợ.csv", origin="o"
    )
    import_confirm(job=job, actor=actor, mapping=job.mapping, background=False)
    return import_run(import_id=job.pk)


def test_each_rep_gets_one_notification_with_their_count_across_chunks(
    team, tmp_path, monkeypatch, worker, django_capture_on_commit_callbacks, settings
):
    settings.LEADLOOP_BASE_URL = "https://crm.example.com"
    monkeypatch.setattr(imports, "CHUNK", 2)
    sales = team.members["sales"]
    sales.email_notifications, sales.language = True, "en"
    sales.save(update_fields=["email_notifications", "language"])
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        job = imported(team, tmp_path, rows=7)  # started by someone using LeadLoop in English

    owners = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert job.created == 7 and len(owners) == 2 and None not in owners
    assert job.assigned == {str(member): count for member, count in owners.items()}
    assert not Notification.objects.filter(kind="lead_assigned").exists()
    notes = Notification.objects.filter(kind="leads_imported")
    told = {n.member_id: n.message for n in notes}
    sales2 = team.members["sales2"]
    assert told == {  # each in the rep's language, else the workspace's (Vietnamese)
        sales.pk: f"{owners[sales.pk]} new leads for you from the import hội chợ.csv",
        sales2.pk: f"Bạn có {owners[sales2.pk]} lead mới từ tệp nhập hội chợ.csv",
    }
    assert {n.member_id: n.count for n in notes} == owners
    [email] = mail.outbox  # one e-mail for the import, to the rep who asked for e-mail
    assert email.to == [sales.user.email] and "new leads for you" in email.subject
    assert "Open my queue: https://crm.example.com/queue/" in email.body
    page = team.browser_client("sales").get("/").content.decode()
    assert f'<a href="/queue/">{told[sales.pk]}</a>' in page  # the dashboard links to the queue


def test_a_chunk_that_fails_is_not_counted_nor_told(team, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 2)
    calls = []

    def second_chunk_fails(problems):
        calls.append(problems)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return problems

    monkeypatch.setattr(imports.ImportProblem.objects, "bulk_create", second_chunk_fails)
    job = imported(team, tmp_path, rows=5)
    assert job.status == "failed" and (job.rows_read, job.created) == (2, 2)
    assert sum(job.assigned.values()) == 2 == Lead.objects.count()
    notes = Notification.objects.filter(kind="leads_imported")
    assert sum(n.count for n in notes) == 2


def test_an_import_that_gives_nobody_a_lead_tells_nobody(team, tmp_path):
    for role in ("sales", "sales2"):
        team.members[role].away = True
        team.members[role].save(update_fields=["away"])
    job = imported(team, tmp_path, rows=3)
    assert job.created == 3 and job.assigned == {}
    assert not Notification.objects.filter(kind__in=["leads_imported", "lead_assigned"]).exists()


def test_one_lead_is_told_in_the_singular(team, tmp_path):
    for role in ("sales", "sales2"):
        team.members[role].language = "en"
        team.members[role].save(update_fields=["language"])
    imported(team, tmp_path, rows=1)
    [note] = Notification.objects.filter(kind="leads_imported")
    assert note.message == "1 new lead for you from the import hội chợ.csv"
