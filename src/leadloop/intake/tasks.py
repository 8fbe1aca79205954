from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from leadloop.intake.imports import import_run
from leadloop.intake.services import idempotency_purge


@db_periodic_task(crontab(minute="17"))
def purge_expired_idempotency_keys() -> int:
    return idempotency_purge()


@db_task()
def import_task(import_id: int) -> None:
    import_run(import_id=import_id)
