from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from leadloop.intake.services import idempotency_purge


@db_periodic_task(crontab(minute="17"))
def purge_expired_idempotency_keys() -> int:
    return idempotency_purge()
