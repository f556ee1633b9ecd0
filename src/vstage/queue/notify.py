"""Waking idle workers when a job becomes runnable.

Two channels, both fire only after the producer's transaction commits:

* PostgreSQL ``NOTIFY vstage_jobs`` (payload: the job type) for workers in other
  processes and on other machines. ``pg_notify`` is transactional: PostgreSQL holds
  the notification until COMMIT and drops it on ROLLBACK, so a worker can never wake
  for a job it cannot yet see. Identical notifications in one transaction collapse
  into one, so a bulk enqueue sends one per job type.
* An in-process signal for a worker living in the producer's process (embedded mode
  on SQLite, which has no NOTIFY), hooked on the session's ``after_commit``.

Both are only wake-ups: a worker that misses them still finds the job by polling.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from vstage.queue.clock import dialect_of

CHANNEL = "vstage_jobs"

WakeCallback = Callable[[str], None]

_local_lock = threading.Lock()
_local_subscribers: dict[int, tuple[asyncio.AbstractEventLoop, WakeCallback]] = {}
_SESSION_FLAG = "vstage_queue_wake_types"


def subscribe_local(callback: WakeCallback) -> Callable[[], None]:
    """Call ``callback(job_type)`` (on the caller's loop) after local enqueues commit."""
    loop = asyncio.get_running_loop()
    key = id(callback)
    with _local_lock:
        _local_subscribers[key] = (loop, callback)

    def unsubscribe() -> None:
        with _local_lock:
            _local_subscribers.pop(key, None)

    return unsubscribe


def _wake_local(job_types: set[str]) -> None:
    with _local_lock:
        subscribers = list(_local_subscribers.values())
    for loop, callback in subscribers:
        for job_type in job_types:
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback, job_type)


def _after_commit(session: Session) -> None:
    types: set[str] = session.info.pop(_SESSION_FLAG, set())
    if types:
        _wake_local(types)


def _after_rollback(session: Session) -> None:
    session.info.pop(_SESSION_FLAG, None)


async def notify_workers(session: AsyncSession, job_type: str) -> None:
    """Arrange for idle workers to wake once the current transaction commits."""
    if dialect_of(session) == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, job_type)))
    sync_session = session.sync_session
    pending: set[str] | None = sync_session.info.get(_SESSION_FLAG)
    if pending is None:
        pending = sync_session.info[_SESSION_FLAG] = set()
        if not event.contains(sync_session, "after_commit", _after_commit):
            event.listen(sync_session, "after_commit", _after_commit)
            event.listen(sync_session, "after_rollback", _after_rollback)
    pending.add(job_type)
