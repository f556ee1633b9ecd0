"""What a handler gets (:class:`JobContext`) and gives back (:class:`JobResult`)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import Settings
from vstage.db import Database
from vstage.models import utcnow
from vstage.queue.claim import ClaimedJob
from vstage.storage.base import Storage

P = ParamSpec("P")
T = TypeVar("T")

ApplyFn = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class JobResult:
    """A handler's outcome, written in the transaction that marks the job completed.

    That transaction only commits while the worker still owns the job, so whatever
    is here takes effect once even if the job ran twice (after a presumed-dead worker
    came back): ``data`` becomes ``jobs.result_json``; ``image`` holds extra column
    values for the job's image, which also becomes ``ready``; ``apply`` runs any other
    database writes that must be atomic with completion. Files belong in storage
    *before* returning, under attempt-independent keys, so a re-run overwrites them.
    """

    data: Mapping[str, Any] | None = None
    image: Mapping[str, Any] = field(default_factory=dict)
    apply: ApplyFn | None = None


class JobContext:
    """Everything a handler may use while it runs one job.

    Heavy CPU/GPU work must go through :meth:`run_in_thread`: the worker's event loop
    keeps sending heartbeats only while it is free, and a job whose heartbeat stops is
    taken away from its worker by the rescuer.
    """

    def __init__(
        self,
        *,
        job: ClaimedJob,
        db: Database,
        storage: Storage,
        settings: Settings,
        device_lock: asyncio.Semaphore | None = None,
    ) -> None:
        self.job = job
        self.db = db
        self.storage = storage
        self.settings = settings
        self._device_lock = device_lock
        self._progress_lock = threading.Lock()
        self._pending: dict[str, Any] | None = None
        self._threads = 0

    def progress(self, step: int, total: int, message: str | None = None) -> None:
        """Report progress (e.g. diffusion step 12 of 30); callable from any thread.

        Cheap enough to call on every step: the worker stores only the latest report,
        at most every ``VSTAGE_JOB_PROGRESS_INTERVAL_SECONDS``, in ``jobs.progress_json``.
        """
        total = max(int(total), 1)
        step = min(max(int(step), 0), total)
        report: dict[str, Any] = {
            "step": step,
            "total": total,
            "fraction": round(step / total, 4),
            "at": utcnow().isoformat(),
        }
        if message:
            report["message"] = message
        with self._progress_lock:
            self._pending = report

    def take_progress(self) -> dict[str, Any] | None:
        """The report not yet stored, if any (the worker's flusher calls this)."""
        with self._progress_lock:
            pending, self._pending = self._pending, None
            return pending

    @property
    def threads_running(self) -> int:
        """Threads started by :meth:`run_in_thread` that are still executing."""
        with self._progress_lock:
            return self._threads

    async def run_in_thread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking ``fn`` in a thread; for GPU handlers, one at a time per device.

        The device lock is held only around the call, so a GPU worker with
        concurrency > 1 downloads, decodes and uploads for one job while another has
        the GPU. A thread cannot be interrupted: if the job is abandoned (shutdown, or
        the rescuer took it away) the lock stays held until the thread really returns,
        so the next job never shares the device with a leftover one.
        """

        def call() -> T:
            with self._progress_lock:
                self._threads += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._progress_lock:
                    self._threads -= 1

        lock = self._device_lock
        if lock is not None:
            await lock.acquire()
        try:
            context = contextvars.copy_context()
            future = asyncio.get_running_loop().run_in_executor(None, context.run, call)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if lock is not None:
            future.add_done_callback(lambda _: lock.release())
        return await asyncio.shield(future)
