from huey.contrib.djhuey import db_task

from leadloop.notifications.services import notifications_email


@db_task(retries=3, retry_delay=60)
def notifications_email_task(notification_ids: list[int]) -> int:
    return notifications_email(notification_ids=notification_ids)
