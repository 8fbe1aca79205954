"""The real path: the webhook commits, enqueues on commit into Huey's SQLite storage, and a real
Huey consumer (threads, as `leadloop worker` runs it) processes the delivery."""

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage

from leadloop.intake.models import Delivery
from leadloop.pipeline.models import Lead
from tests.core.support import wait_for
from tests.intake.hooks.support import body_of, google, make_channels, sign, zalo


@pytest.fixture
def queue(tmp_path):
    """HUEY with a fresh SQLite queue of its own (not immediate)."""
    original, immediate = HUEY.storage, HUEY.immediate
    HUEY.immediate = False
    HUEY.storage = SqliteStorage(name="leadloop-test", filename=str(tmp_path / "huey.sqlite3"))
    yield HUEY
    HUEY.storage.close()
    HUEY.storage, HUEY.immediate = original, immediate


@pytest.mark.django_db(transaction=True)
def test_deliveries_wait_in_the_queue_until_a_consumer_processes_them(team, queue):
    make_channels(team)
    for provider, payload in (("google", google()), ("zalo", zalo())):
        body = body_of(payload)
        response = Client().post(
            f"/hooks/acme/{provider}",
            data=body,
            content_type="application/json",
            headers=sign(provider, body),
        )
        assert response.status_code == 200
    # answered and stored, not processed: the tasks wait in the queue
    assert set(Delivery.objects.values_list("status", flat=True)) == {"received"}
    assert queue.pending_count() == 2
    assert not Lead.objects.exists()

    consumer = queue.create_consumer(workers=2, worker_type="thread", periodic=False)
    consumer._set_signal_handlers = lambda: None  # pytest keeps its own
    consumer.start()
    try:
        assert wait_for(lambda: not Delivery.objects.exclude(status="done").exists())
    finally:
        consumer.stop(graceful=True)
    assert Lead.objects.count() == 2
    assert queue.pending_count() == 0
