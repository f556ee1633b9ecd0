"""``LISTEN vstage_jobs`` on one dedicated connection per process, for any number of workers.

A LISTEN connection cannot come from the pool (a pooled connection is handed to
other work and its listeners with it), so this opens its own asyncpg connection. If it
drops, it reconnects with backoff; meanwhile workers fall back on polling, so a lost
notification delays a job by at most one poll interval and never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from vstage.queue.notify import CHANNEL, WakeCallback

log = logging.getLogger(__name__)


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` → a DSN asyncpg accepts."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class JobNotifications:
    """Fans ``vstage_jobs`` notifications (payload: job type) out to subscribers."""

    def __init__(self, database_url: str, *, reconnect_max_seconds: float = 10.0) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._subscribers: dict[int, WakeCallback] = {}
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._closed = False
        self._reconnect_max = reconnect_max_seconds

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def subscribe(self, callback: WakeCallback) -> Callable[[], None]:
        key = id(callback)
        self._subscribers[key] = callback

        def unsubscribe() -> None:
            self._subscribers.pop(key, None)

        return unsubscribe

    async def start(self) -> None:
        """Connect (one attempt, so callers can rely on LISTEN being active), then keep it so."""
        with contextlib.suppress(Exception):
            await self._connect()
        self._task = asyncio.create_task(self._keep_connected(), name="vstage-listen")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), timeout=5)
        self._conn = None

    def _fire(self, job_type: str) -> None:
        for callback in list(self._subscribers.values()):
            callback(job_type)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._fire(payload)

    def _on_terminate(self, _conn: Any) -> None:
        self._lost.set()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(
            self._dsn, server_settings={"application_name": "vstage-worker-listen"}, timeout=10
        )
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._on_terminate)
        self._lost.clear()
        self._conn = conn
        # Jobs may have been enqueued while we were not listening: look now.
        self._fire("")

    async def _keep_connected(self) -> None:
        delay = 0.5
        while not self._closed:
            if self.connected:
                await self._lost.wait()
                log.warning("LISTEN connection lost; polling until it is back")
                self._conn = None
                continue
            try:
                await self._connect()
                delay = 0.5
                log.info("LISTEN %s connected", CHANNEL)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("LISTEN connection failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_max)
