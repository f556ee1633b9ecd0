"""Embedded mode's in-process worker, started and stopped with the app (``vstage serve``).

Embedded mode runs on SQLite, which has no NOTIFY and serialises writers: one worker
with one slot, woken at once by enqueues in this process (the API's own), polling
otherwise. On shutdown it stops claiming and gives a running job the usual grace
period before releasing it back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vstage.queue.registry import load_builtin_handlers
from vstage.queue.worker import Worker

log = logging.getLogger(__name__)


@asynccontextmanager
async def embedded_worker(app: FastAPI) -> AsyncIterator[None]:
    """Run one worker on ``app.state.db``/``storage``/``settings`` for the app's lifetime."""
    load_builtin_handlers()
    worker = Worker(app.state.db, app.state.storage, app.state.settings, concurrency=1)
    task = asyncio.create_task(worker.run(), name="vstage-embedded-worker")
    app.state.worker = worker
    try:
        yield
    finally:
        worker.stop()
        try:
            await task
        except Exception:
            log.exception("the embedded worker crashed")
