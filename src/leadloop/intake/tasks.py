from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from leadloop.intake.imports import import_run, imports_resume_stalled
from leadloop.intake.inbox import deliveries_sweep, delivery_process
from leadloop.intake.services import idempotency_purge


@db_periodic_task(crontab(minute="17"))
def purge_expired_idempotency_keys() -> int:
    return idempotency_purge()


@db_task()
def delivery_process_task(delivery_id: int) -> None:
    """One attempt at a webhook delivery; it schedules its own retry (backoff in the inbox)."""
    delivery_process(delivery_id=delivery_id)


@db_periodic_task(crontab(minute="*/5"))
def sweep_inbox() -> int:
    return deliveries_sweep()


@db_task()
def import_task(import_id: int) -> None:
    import_run(import_id=import_id)


@db_periodic_task(crontab(minute="*/5"))
def resume_stalled_imports() -> int:
    return imports_resume_stalled()
