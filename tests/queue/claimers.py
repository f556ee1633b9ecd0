"""Entry point of a test process running several independent workers (claim loops).

``python -m tests.queue.claimers N`` runs ``N`` :class:`Worker` instances, each with one
slot and its own claim loop, sharing this process's connection pool and LISTEN
connection, until SIGTERM. Configuration comes from ``VSTAGE_*`` like ``vstage worker``.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import tests.queue.handlers  # noqa: F401  (registers the test job types)
from vstage.config import get_settings
from vstage.db import Database
from vstage.queue import Worker
from vstage.queue.listen import JobNotifications
from vstage.storage import make_storage


async def main(count: int) -> None:
    settings = get_settings()
    db = Database(settings)
    storage = make_storage(settings)
    notifications = JobNotifications(settings.database_url)
    await notifications.start()
    workers = [
        Worker(db, storage, settings, concurrency=1, batch_size=1, notifications=notifications)
        for _ in range(count)
    ]

    def stop_all() -> None:
        for worker in workers:
            worker.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_all)
    try:
        await asyncio.gather(*(w.run() for w in workers))
    finally:
        await notifications.close()
        await storage.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
