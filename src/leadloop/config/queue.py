"""Huey's SQLite queue (used without REDIS_URL) with synchronous=NORMAL in WAL mode.

Huey's default (FULL) waits for an fsync on every enqueue, about 6 ms of the 10 ms a webhook
acknowledgement costs. NORMAL survives a crash of the process, not of the machine; a task lost
that way is found again by the inbox sweep (intake.tasks.sweep_inbox), as the delivery it
belongs to is in the main database.
"""

from huey.storage import SqliteStorage


class QueueStorage(SqliteStorage):
    def _create_connection(self):
        connection = super()._create_connection()
        connection.execute("pragma synchronous=1")
        return connection
