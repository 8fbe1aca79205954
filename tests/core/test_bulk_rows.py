"""The capture engine's row writer: what `instance` and `rows_insert` store is what Django would."""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import DataError, IntegrityError, connection, transaction

from leadloop.contacts.models import Contact
from leadloop.core import clock
from leadloop.core.bulk import instance, row_insert, rows_ahead, rows_insert
from leadloop.intake.models import Channel, Delivery
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from tests.core.support import capture


def _contact(team, phone: str) -> Contact:
    return instance(
        Contact,
        workspace=team.workspace,
        full_name='Nguyễn Thị Thu\tHà \\ "quoted"\n',
        phone_raw=phone,
        phone_e164=phone,
        phone_valid=True,
        created_at=clock.now(),
    )


def test_rows_are_stored_as_django_would_store_them_and_ids_are_set(team):
    stage = team.workspace.stages.order_by("position").first()
    contact = _contact(team, "+84912345678")
    lead = instance(
        Lead,
        workspace=team.workspace,
        contact=contact,  # saved after it is assigned: its id is taken when the lead is written
        stage=stage,
        furthest_stage=stage,
        fields={"Quận": "Ba Đình", "nested": [1, None, "x"]},
        created_at=clock.now(),
    )
    at = clock.now() - timedelta(minutes=3)
    with transaction.atomic():
        rows_insert([contact])
        rows_insert([lead])
        events = rows_insert(
            [instance(LeadEvent, workspace_id=team.workspace.pk, lead=lead, kind="created", at=at)]
        )

    stored = Lead.objects.select_related("contact").get(pk=lead.pk)
    assert contact.pk and lead.contact_id == contact.pk == stored.contact_id
    assert stored.contact.full_name == contact.full_name  # tabs, backslashes, quotes, newlines
    assert stored.fields == {"Quận": "Ba Đình", "nested": [1, None, "x"]}
    assert stored.is_open and stored.owner_id is None  # defaults of the model
    assert Lead.objects.filter(fields__Quận="Ba Đình").get() == stored  # JSON, not a string
    event = LeadEvent.objects.get(pk=events[0].pk)
    assert event.lead_id == lead.pk and event.at == at and event.data == {}


def test_rows_made_ready_ahead_are_stored_with_the_ids_drawn_ahead(team):
    """On PostgreSQL the ids are drawn and the rows read before the writer's locks, and what
    was read is what is stored; on SQLite (ids after the largest stored) nothing is done ahead."""
    stage = team.workspace.stages.order_by("position").first()
    contact = _contact(team, "+84912345670")
    lead = instance(Lead, workspace=team.workspace, contact=contact, stage=stage,
                    furthest_stage=stage, created_at=clock.now())  # fmt: skip
    event = instance(LeadEvent, workspace_id=team.workspace.pk, lead=lead, kind="created",
                     data={"via": "import"}, at=clock.now())  # fmt: skip
    with transaction.atomic():
        ready = rows_ahead(read=([contact], [event]), ids_only=([lead],))
        ahead = (contact.pk, lead.pk, event.pk)
        lead.owner = team.members["sales"]  # assigned after: the lead's row is read at the write
        rows_insert([contact], [lead], [event], ready=ready)

    if connection.vendor == "postgresql":
        assert all(ahead) and (contact.pk, lead.pk, event.pk) == ahead  # kept at the write
        assert set(ready) == {id(contact), id(event)}
    else:
        assert ahead == (None, None, None) and ready == {}
    stored = LeadEvent.objects.select_related("lead__contact").get(pk=event.pk)
    assert stored.lead_id == lead.pk and stored.lead.contact_id == contact.pk
    assert stored.lead.contact.full_name == contact.full_name
    assert stored.data == {"via": "import"} and stored.lead.owner_id == team.members["sales"].pk


def test_json_values_are_found_as_django_stored_them_even_those_orjson_refuses(team):
    """On PostgreSQL the values go through orjson (json.dumps for what it refuses: an integer
    past 64 bits); on SQLite as json.dumps writes them, since exact lookups compare the text."""
    stage = team.workspace.stages.order_by("position").first()
    values = [{"Quận": "Ba Đình", "n": [1.5, None]}, {"big": 2**70, 7: "số"}]
    leads = [
        instance(Lead, workspace=team.workspace, contact=_contact(team, phone), stage=stage,
                 furthest_stage=stage, fields=fields, created_at=clock.now())
        for phone, fields in zip(["+84912000001", "+84912000002"], values, strict=True)
    ]  # fmt: skip
    with transaction.atomic():
        rows_insert([lead.contact for lead in leads], leads)

    stored = dict(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("pk", "fields")
    )
    assert stored[leads[0].pk] == values[0]
    assert stored[leads[1].pk] == {"big": 2**70, "7": "số"}  # keys are text in JSON
    assert Lead.objects.get(fields=values[0]).pk == leads[0].pk
    assert Lead.objects.get(fields__big=2**70).pk == leads[1].pk


@pytest.mark.parametrize("zone", [UTC, ZoneInfo("Asia/Ho_Chi_Minh")])
@pytest.mark.parametrize("micro", [0, 123456])
def test_datetimes_are_stored_as_django_stores_them_whatever_their_zone(team, micro, zone):
    lead = Lead.objects.create(
        workspace=team.workspace,
        contact=Contact.objects.create(workspace=team.workspace, created_at=clock.now()),
        stage=team.workspace.stages.first(),
        created_at=clock.now(),
    )
    moment = clock.now().astimezone(zone).replace(microsecond=micro)
    django_row = LeadEvent.objects.create(workspace=team.workspace, lead=lead, kind="x", at=moment)
    with transaction.atomic():
        [ours] = rows_insert([instance(LeadEvent, workspace=team.workspace, lead=lead, at=moment)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, at FROM pipeline_leadevent WHERE id IN (%s, %s)", [ours.pk, django_row.pk]
        )
        stored = dict(cursor.fetchall())
    assert stored[ours.pk] == stored[django_row.pk]
    assert set(LeadEvent.objects.filter(at=moment).values_list("pk", flat=True)) == set(stored)


def test_an_empty_datetime_is_stored_as_null(team):
    member = team.members["sales"]
    note = instance(Notification, workspace=team.workspace, member=member, created_at=clock.now())
    with transaction.atomic():
        rows_insert([note])
    assert note.read_at is None
    assert Notification.objects.filter(pk=note.pk, read_at__isnull=True).exists()


def test_callable_defaults_are_made_for_each_instance(team):
    first, second = (instance(LeadEvent, kind="created") for _ in range(2))
    assert first.data == {} and first.data is not second.data
    assert first._state.adding


def test_a_broken_constraint_is_djangos_integrity_error_and_stores_nothing(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert([_contact(team, "+84912345678"), _contact(team, "+84912345678")])
    assert not Contact.objects.filter(phone_e164="+84912345678").exists()


@pytest.mark.postgres  # SQLite stores it
def test_a_value_refused_among_rows_sent_together_is_djangos_data_error(team):
    """The refused row's own error, not psycopg's note that the rows after it were skipped: the
    engine turns a DataError into that submission's 422 and plays the others again."""
    stage = team.workspace.stages.order_by("position").first()
    contact = _contact(team, "+84912345670")
    lead = instance(
        Lead,
        workspace=team.workspace,
        contact=contact,
        stage=stage,
        furthest_stage=stage,
        fields={"a": "b\x00"},  # jsonb refuses \u0000
        created_at=clock.now(),
    )
    after = instance(LeadEvent, workspace_id=team.workspace.pk, lead=lead, kind="created")
    with pytest.raises(DataError), transaction.atomic():
        rows_insert([contact], [lead], [after])
    assert not Contact.objects.filter(phone_e164="+84912345670").exists()


def test_ids_follow_rows_written_by_django(team):
    with transaction.atomic():
        Contact.objects.create(**_fields(team, "+84987654321"))
        written = rows_insert([_contact(team, "+84901111111"), _contact(team, "+84902222222")])
    after = Contact.objects.create(**_fields(team, "+84903333333"))
    ids = [c.pk for c in written]
    assert ids == sorted(ids) and len(set(ids)) == 2
    assert after.pk > max(ids)


def _fields(team, phone: str) -> dict:
    return {
        "workspace": team.workspace,
        "phone_raw": phone,
        "phone_e164": phone,
        "phone_valid": True,
        "created_at": clock.now(),
    }


def test_one_row_is_inserted_by_itself_with_its_binary_json_and_address_values(team):
    """`row_insert`: the one statement that stores a webhook delivery before it is answered."""
    channel = Channel.objects.create(
        workspace=team.workspace, kind="google", name="G", key="k", created_at=clock.now()
    )
    body = b'{"lead_id": "1"}\x00\xff'
    delivery = instance(
        Delivery,
        workspace_id=team.workspace.pk,
        channel=channel,
        provider="google",
        headers={"User-Agent": "Google-Lead-Forms/1.0 (thử)"},
        body=body,
        remote_addr="2001:db8::1",
        received_at=clock.now(),
    )
    row_insert(delivery)
    stored = Delivery.objects.get(pk=delivery.pk)
    assert bytes(stored.body) == body and stored.remote_addr == "2001:db8::1"
    assert stored.headers == {"User-Agent": "Google-Lead-Forms/1.0 (thử)"}
    assert (stored.status, stored.attempts, stored.outcomes) == ("received", 0, [])
    assert Delivery.objects.filter(headers__has_key="User-Agent").get() == stored  # JSON
    later = instance(
        Delivery, workspace=team.workspace, channel=channel, body=b"", received_at=clock.now()
    )
    row_insert(later)
    assert later.pk > delivery.pk and not later._state.adding


@pytest.mark.postgres  # SQLite runs every statement when sent
def test_with_a_libpq_without_pipeline_mode_each_statement_runs_when_sent(team, monkeypatch):
    def refused(self):  # what psycopg does with such a libpq
        raise psycopg.NotSupportedError("pipeline mode not supported: libpq 14 or newer needed")

    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    monkeypatch.setattr(psycopg.Connection, "pipeline", refused)
    first = capture(team, full_name="Nguyễn Văn An", phone="0912345678", source="facebook")
    again = capture(team, full_name="Nguyễn Văn An", phone="+84 912 345 678")
    assert first.created and not again.created and again.lead.pk == first.lead.pk
    lead = Lead.objects.get(pk=first.lead.pk)
    assert lead.owner_id is not None and lead.source.key == "facebook"
    assert lead.touches.count() == 2


def test_rows_made_ready_ahead_keep_every_character_and_mix_with_rows_made_at_the_write(team):
    """A copy of rows made ready ahead (on PostgreSQL, the lines COPY sends) and of rows made at
    the write, after one of the ready ones was left out: each stored once, value for value,
    tabs, line breaks and backslashes included."""
    odd = "Tab\there\nnew line\r\nback\\slash \\N «Đặng»"
    contacts = [_contact(team, f"+8491234560{n}") for n in range(6)]
    for n, contact in enumerate(contacts):
        contact.full_name, contact.search_key = f"{odd} {n}", odd
    late = _contact(team, "+84912345699")
    with transaction.atomic():
        ready = rows_ahead(read=(contacts,), ids_only=())
        kept = [contacts[0], late, *contacts[2:]]  # one left out, one made only now
        rows_insert(kept, ready=ready)

    stored = {c.pk: c for c in Contact.objects.filter(workspace=team.workspace)}
    assert len(ready) == (6 if connection.vendor == "postgresql" else 0)
    assert sorted(stored) == sorted(c.pk for c in kept)
    for contact in kept:
        assert stored[contact.pk].full_name == contact.full_name
        assert stored[contact.pk].search_key == contact.search_key
