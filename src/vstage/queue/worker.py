"""The worker: claims jobs, runs their handlers, heartbeats, rescues, shuts down cleanly.

One :class:`Worker` is one claim loop with ``concurrency`` job slots. It claims as many
jobs as it has free slots (at most ``batch_size`` per statement), runs each in its own
task, and while they run a *keeper* task renews their heartbeat and stores their
progress. Idle, it sleeps until a NOTIFY (PostgreSQL), an in-process enqueue, the next
delayed job's due time, or a poll interval that backs off to
``VSTAGE_WORKER_POLL_SECONDS``. Each worker also runs the rescuer now and then, so a
fleet needs no separate rescuer process.

Stopping (SIGTERM/SIGINT, :meth:`Worker.stop`): no more claims; running jobs get
``grace`` seconds to finish; what is still running then is released back to
``queued`` without counting the attempt. A second signal skips the rest of the grace.

Starting one programmatically::

    worker = Worker(db, storage, settings, concurrency=4)
    task = asyncio.create_task(worker.run())
    ...
    worker.stop()
    await task
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from vstage.config import Settings
from vstage.db import Database
from vstage.models import Job, JobStatus
from vstage.observability.logging import job_id_var
from vstage.queue import metrics
from vstage.queue.claim import ClaimedJob, claim, seconds_until_due
from vstage.queue.clock import Bind, db_now
from vstage.queue.context import JobContext, JobResult
from vstage.queue.errors import Failure, classify
from vstage.queue.listen import JobNotifications
from vstage.queue.notify import subscribe_local
from vstage.queue.registry import HandlerRegistry, default_registry
from vstage.queue.rescue import rescue_once
from vstage.queue.transitions import (
    Outcome,
    RefundHook,
    RetryPolicy,
    complete,
    complete_many,
    fail,
    owned,
    release,
)
from vstage.storage.base import Storage
from vstage.usage.service import refund as usage_refund

log = logging.getLogger(__name__)

#: Shortest idle poll; the interval doubles from here up to ``worker_poll_seconds``.
MIN_POLL_SECONDS = 0.05
#: Most completions written in one statement.
COMPLETION_BATCH = 256


def make_worker_id() -> str:
    """``host:pid:random`` — unique per worker, readable in ``jobs.worker_id``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class _PendingCompletion:
    job: ClaimedJob
    result: JobResult
    progress: dict[str, Any] | None
    done: asyncio.Future[bool]


@dataclass
class _Running:
    job: ClaimedJob
    ctx: JobContext
    task: asyncio.Task[None]
    lost: bool = False


class Worker:
    """One claim loop with ``concurrency`` job slots. See the module docstring."""

    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        *,
        registry: HandlerRegistry | None = None,
        concurrency: int | None = None,
        batch_size: int | None = None,
        types: Sequence[str] | None = None,
        worker_id: str | None = None,
        refund: RefundHook = usage_refund,
        notifications: JobNotifications | None = None,
        listen: bool = True,
        rescue: bool = True,
        burst: bool = False,
        grace_seconds: float | None = None,
    ) -> None:
        """
        ``types``: claim only these job types (``None``: all). ``notifications``: a
        shared LISTEN connection (several workers in one process); otherwise, on
        PostgreSQL with ``listen``, the worker opens its own. ``rescue``: run the
        rescuer every ``VSTAGE_JOB_RESCUE_INTERVAL_SECONDS`` (0 disables it).
        ``burst``: return once nothing is runnable instead of waiting for more.
        ``refund``: the billing refund hook called on final failures.
        """
        self.db = db
        self.storage = storage
        self.settings = settings
        self.registry = registry or default_registry
        self.concurrency = concurrency or settings.worker_concurrency
        self.batch_size = batch_size or settings.worker_batch_size
        self.types = list(types) if types is not None else None
        self.worker_id = worker_id or make_worker_id()
        self.refund = refund
        self.policy = RetryPolicy(settings.job_retry_base_seconds, settings.job_retry_max_seconds)
        self.burst = burst
        self.grace_seconds = (
            settings.worker_shutdown_grace_seconds if grace_seconds is None else grace_seconds
        )
        self._notifications = notifications
        self._own_notifications = notifications is None and listen and not settings.is_sqlite
        self._rescue = rescue and settings.job_rescue_interval_seconds > 0
        self._device_lock = asyncio.Semaphore(settings.worker_gpu_slots)
        self._running: dict[tuple[uuid.UUID, int], _Running] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._skip_grace = asyncio.Event()
        self._waiting_for_slot = False
        self._abandoned: list[JobContext] = []
        # Group commit of completions (PostgreSQL): finished jobs queue up here and one
        # flusher writes all that are waiting in one statement.
        self._group_commit = not settings.is_sqlite
        self._completions: list[_PendingCompletion] = []
        self._completions_waiting = asyncio.Event()
        self.processed = 0

    # -- public control --------------------------------------------------------------

    def stop(self, *, grace_seconds: float | None = None) -> None:
        """Stop claiming; running jobs get the grace period (``0``: release them now)."""
        if grace_seconds is not None:
            self.grace_seconds = grace_seconds
            if grace_seconds <= 0:
                self._skip_grace.set()
        self._stopping.set()
        self._wake.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop gracefully; a second one releases running jobs at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping.is_set():
            log.warning("%s again: releasing running jobs now", sig.name)
            self.stop(grace_seconds=0)
        else:
            log.info(
                "%s: finishing %d running job(s), up to %.0fs",
                sig.name,
                len(self._running),
                self.grace_seconds,
            )
            self.stop()

    @property
    def threads_running(self) -> int:
        """Handler threads still executing, including those of abandoned jobs.

        A thread cannot be interrupted; a process that must exit while some run (after
        releasing their jobs) has to end with ``os._exit`` (the CLI does).
        """
        contexts = [r.ctx for r in self._running.values()] + self._abandoned
        return sum(ctx.threads_running for ctx in contexts)

    async def run(self) -> None:
        """Claim and run jobs until :meth:`stop` (or, in burst mode, until idle)."""
        log.info(
            "worker %s started (concurrency %d, types %s)",
            self.worker_id,
            self.concurrency,
            ",".join(self.types) if self.types is not None else "all",
        )
        async with self._services():
            try:
                await self._claim_loop()
            finally:
                await self._shutdown()
        log.info("worker %s stopped after %d job(s)", self.worker_id, self.processed)

    async def run_once(self) -> int:
        """Claim what the free slots allow, run it to the end; the number of jobs claimed.

        For tests and scripts that want to step the queue deterministically.
        """
        async with self._services():
            jobs = await self._claim(min(self.concurrency, self.batch_size))
            for job in jobs:
                self._start(job)
            tasks = [r.task for r in self._running.values()]
            if tasks:
                await asyncio.wait(tasks)
            return len(jobs)

    # -- services: listener, keeper, rescuer -------------------------------------------

    @contextlib.asynccontextmanager
    async def _services(self) -> AsyncIterator[None]:
        unsubscribe = [subscribe_local(self._on_notification)]
        if self._own_notifications:
            self._notifications = JobNotifications(self.settings.database_url)
            await self._notifications.start()
        if self._notifications is not None:
            unsubscribe.append(self._notifications.subscribe(self._on_notification))
        background = [asyncio.create_task(self._keeper(), name="vstage-keeper")]
        if self._group_commit:
            background.append(asyncio.create_task(self._flusher(), name="vstage-completions"))
        if self._rescue:
            background.append(asyncio.create_task(self._rescuer(), name="vstage-rescuer"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for undo in unsubscribe:
                undo()
            if self._own_notifications and self._notifications is not None:
                await self._notifications.close()
                self._notifications = None

    def _on_notification(self, job_type: str) -> None:
        if not job_type or self.types is None or job_type in self.types:
            self._wake.set()

    async def _keeper(self) -> None:
        """Heartbeat running jobs and store their progress, until cancelled."""
        heartbeat_every = self.settings.job_heartbeat_seconds
        tick = max(0.05, min(heartbeat_every, self.settings.job_progress_interval_seconds))
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            try:
                if time.monotonic() - last_beat >= heartbeat_every - tick / 2:
                    last_beat = time.monotonic()
                    await self._heartbeat()
                await self._flush_progress()
            except Exception:
                log.warning("heartbeat/progress write failed; will retry", exc_info=True)

    async def _heartbeat(self) -> None:
        running = list(self._running.values())
        if not running:
            return
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Job)
                .where(
                    Job.id.in_([r.job.id for r in running]),
                    Job.worker_id == self.worker_id,
                    Job.status == JobStatus.processing.value,
                )
                .values(heartbeat_at=db_now(session))
                .returning(Job.id, Job.attempts)
                .execution_options(synchronize_session=False)
            )
            renewed = {(row.id, row.attempts) for row in result}
        for entry in running:
            key = (entry.job.id, entry.job.attempts)
            if key not in renewed and not entry.task.done() and not entry.lost:
                # The rescuer took it (we looked dead) or it was deleted: stop wasting
                # the slot; whatever it would still write is refused by the lease.
                log.warning("job %s is no longer ours; abandoning it", entry.job.id)
                entry.lost = True
                entry.task.cancel()

    async def _flush_progress(self) -> None:
        pending = [
            (r.job, report)
            for r in list(self._running.values())
            if (report := r.ctx.take_progress()) is not None
        ]
        if not pending:
            return
        async with self.db.transaction() as session:
            for job, report in pending:
                await session.execute(
                    update(Job)
                    .where(owned(job))
                    .values(progress_json=report)
                    .execution_options(synchronize_session=False)
                )

    async def _flusher(self) -> None:
        """Write waiting completions, all of them per transaction, until cancelled.

        No artificial delay: while one batch is being written the next accumulates, so
        an idle worker completes a job at once and a busy one batches naturally.
        """
        while True:
            await self._completions_waiting.wait()
            self._completions_waiting.clear()
            while self._completions:
                batch = self._completions[:COMPLETION_BATCH]
                del self._completions[:COMPLETION_BATCH]
                try:
                    async with self.db.transaction() as session:
                        done = await complete_many(
                            session,
                            self.worker_id,
                            [(c.job, c.result, c.progress) for c in batch],
                        )
                except Exception as exc:
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                for item in batch:
                    if not item.done.done():
                        item.done.set_result((item.job.id, item.job.attempts) in done)

    async def _rescuer(self) -> None:
        interval = self.settings.job_rescue_interval_seconds
        while True:
            # Jitter so a fleet started together does not rescue in lockstep.
            await asyncio.sleep(interval * random.uniform(0.75, 1.25))
            try:
                await rescue_once(self.db, self.settings, self.refund)
            except Exception:
                log.warning("rescuer pass failed; will retry", exc_info=True)

    # -- claiming ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _claim_bind(self) -> AsyncIterator[Bind]:
        """Where claims run: on PostgreSQL an autocommit connection (the claim is one
        statement: no BEGIN/COMMIT round trips); on SQLite a transaction."""
        if self.settings.is_sqlite:
            async with self.db.transaction() as session:
                yield session
            return
        async with self.db.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        async with self._claim_bind() as bind:
            jobs = await claim(bind, self.worker_id, limit=limit, types=self.types)
        for job in jobs:
            metrics.JOBS_CLAIMED.labels(job.type).inc()
            wait = (job.started_at - job.run_after).total_seconds()
            metrics.JOB_QUEUE_WAIT.labels(job.type).observe(max(wait, 0.0))
        return jobs

    async def _seconds_until_due(self) -> float | None:
        async with self._claim_bind() as bind:
            return await seconds_until_due(bind, self.types)

    async def _claim_loop(self) -> None:
        poll_cap = self.settings.worker_poll_seconds
        poll = min(MIN_POLL_SECONDS, poll_cap)
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._waiting_for_slot = True
                self._wake.clear()
                if self.concurrency - len(self._running) <= 0:
                    await self._wake.wait()
                self._waiting_for_slot = False
                continue
            want = min(free, self.batch_size)
            self._wake.clear()  # before claiming: a NOTIFY during the claim must count
            try:
                jobs = await self._claim(want)
            except Exception:
                log.exception("claiming jobs failed; retrying in %.1fs", poll_cap)
                await self._sleep(poll_cap)
                continue
            for job in jobs:
                self._start(job)
            if len(jobs) == want:
                poll = min(MIN_POLL_SECONDS, poll_cap)
                await asyncio.sleep(0)  # let the new tasks start before claiming more
                continue
            try:
                until_due = await self._seconds_until_due()
            except Exception:
                until_due = None
            nothing_due = until_due is None or until_due > 0
            if self.burst and nothing_due and not self._running:
                return
            delay = poll
            if until_due is not None:
                delay = min(delay, max(until_due, MIN_POLL_SECONDS))
            # In burst mode a finishing job is the next thing worth waking for.
            self._waiting_for_slot = self.burst
            woken = await self._sleep(delay)
            self._waiting_for_slot = False
            poll = min(MIN_POLL_SECONDS, poll_cap) if woken or jobs else min(poll * 2, poll_cap)

    async def _sleep(self, seconds: float) -> bool:
        """Wait for a wake-up (True) or ``seconds`` (False)."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    # -- running one job -------------------------------------------------------------

    def _start(self, job: ClaimedJob) -> None:
        spec = self.registry.get(job.type)
        ctx = JobContext(
            job=job,
            db=self.db,
            storage=self.storage,
            settings=self.settings,
            device_lock=self._device_lock if spec is not None and spec.gpu else None,
        )
        key = (job.id, job.attempts)
        task = asyncio.create_task(self._execute(job, ctx), name=f"job-{job.id}")
        self._running[key] = _Running(job, ctx, task)
        metrics.JOBS_RUNNING.inc()
        task.add_done_callback(lambda _t: self._finished(key))

    def _finished(self, key: tuple[uuid.UUID, int]) -> None:
        entry = self._running.pop(key, None)
        metrics.JOBS_RUNNING.dec()
        if entry is not None and entry.ctx.threads_running:
            # Cancelled while its thread still runs: keep counting that thread.
            self._abandoned = [c for c in self._abandoned if c.threads_running]
            self._abandoned.append(entry.ctx)
        if self._waiting_for_slot:
            self._wake.set()

    async def _execute(self, job: ClaimedJob, ctx: JobContext) -> None:
        token = job_id_var.set(str(job.id))
        started = time.monotonic()
        outcome = Outcome.lost
        try:
            spec = self.registry.get(job.type)
            failure: Failure | None = None
            result: JobResult | None = None
            if spec is None:
                known = ", ".join(self.registry.types()) or "none"
                failure = Failure(
                    True,
                    f"no handler registered for job type {job.type!r} (this worker has: {known})",
                    "this kind of job is not supported by the workers",
                )
            else:
                try:
                    result = await spec.run(ctx, job.payload)
                except Exception as exc:
                    failure = classify(exc)
                    expected = failure.permanent or failure.retry_after is not None
                    log.log(
                        logging.WARNING if expected else logging.ERROR,
                        "job %s (%s) attempt %d/%d failed: %s",
                        job.id,
                        job.type,
                        job.attempts,
                        job.max_attempts,
                        failure.error.splitlines()[0],
                        exc_info=not expected,
                    )
            if result is not None:
                try:
                    outcome = await self._complete(job, ctx, result)
                except Exception as exc:
                    failure = classify(exc)
                    log.exception("job %s: storing its result failed", job.id)
            if failure is not None:
                outcome = await self._fail(job, failure)
        except asyncio.CancelledError:
            outcome = Outcome.lost if self._is_lost(job) else Outcome.released
            raise
        except Exception:
            # The database is unreachable: the job stays ``processing`` without a
            # heartbeat, and the rescuer requeues it once the database is back.
            log.exception("job %s: could not record its outcome", job.id)
        finally:
            self.processed += 1
            metrics.JOB_DURATION.labels(job.type, outcome.value).observe(time.monotonic() - started)
            job_id_var.reset(token)

    def _is_lost(self, job: ClaimedJob) -> bool:
        entry = self._running.get((job.id, job.attempts))
        return entry is not None and entry.lost

    async def _complete(self, job: ClaimedJob, ctx: JobContext, result: JobResult) -> Outcome:
        progress = ctx.take_progress()
        if self._group_commit and result.apply is None:
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._completions.append(_PendingCompletion(job, result, progress, future))
            self._completions_waiting.set()
            done = await future
        else:
            async with self.db.transaction() as session:
                done = await complete(session, job, result, progress=progress)
        if not done:
            log.warning("job %s finished here but is no longer ours; result discarded", job.id)
            return Outcome.lost
        return Outcome.completed

    async def _fail(self, job: ClaimedJob, failure: Failure) -> Outcome:
        async with self.db.transaction() as session:
            outcome = await fail(session, job, failure, policy=self.policy, refund=self.refund)
        if outcome is Outcome.failed:
            kind = "permanent" if failure.permanent else "final"
            metrics.JOB_FAILURES.labels(job.type, kind).inc()
            log.error("job %s failed for good: %s", job.id, failure.error.splitlines()[0])
        elif outcome is Outcome.retried:
            metrics.JOB_FAILURES.labels(job.type, "transient").inc()
        return outcome

    # -- shutdown ------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Let running jobs finish within the grace period, then release the rest."""
        self._stopping.set()
        tasks = [r.task for r in self._running.values()]
        if tasks and self.grace_seconds > 0 and not self._skip_grace.is_set():
            skip = asyncio.create_task(self._skip_grace.wait())
            await _wait_all_or(tasks, skip, self.grace_seconds)
            skip.cancel()
        leftover = list(self._running.values())
        if not leftover:
            return
        for entry in leftover:
            entry.task.cancel()
        await asyncio.gather(*(e.task for e in leftover), return_exceptions=True)
        try:
            async with self.db.transaction() as session:
                released = [e.job.id for e in leftover if await release(session, e.job)]
        except Exception:
            log.exception("could not release running jobs; the rescuer will requeue them")
            return
        for job_id in released:
            log.warning("job %s did not finish within the grace period; released", job_id)


async def _wait_all_or(
    tasks: Sequence[asyncio.Task[None]], interrupt: asyncio.Task[bool], seconds: float
) -> None:
    """Wait until every task is done, ``interrupt`` finishes, or ``seconds`` pass."""
    pending: set[asyncio.Task[Any]] = set(tasks)
    deadline = time.monotonic() + seconds
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        done, pending = await asyncio.wait(
            [*pending, interrupt], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
        )
        if interrupt in done:
            return
        pending.discard(interrupt)
