"""Every state change of a claimed job, each guarded by the worker's lease.

A worker's lease on a job is ``(id, worker_id, attempts)`` while ``status`` is
``processing``. Completing, failing, retrying and releasing all match the full lease,
so when the rescuer has taken a job from a worker it presumed dead (and another
worker, or the same one, has claimed it again), the late write of the old attempt
changes nothing: a job is completed once, failed once, refunded once.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    Uuid,
    and_,
    bindparam,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import Conflict, NotFound
from vstage.models import Image, ImageStatus, Job, JobStatus
from vstage.queue.claim import ClaimedJob
from vstage.queue.clock import db_now
from vstage.queue.context import JobResult
from vstage.queue.errors import Failure, final_user_message
from vstage.queue.notify import notify_workers

log = logging.getLogger(__name__)


class RefundHook(Protocol):
    """Gives back what the image was charged; must be idempotent.

    Called once per final failure, in the transaction that marks the job failed,
    so the refund and the failure commit together. The real one is
    :func:`vstage.usage.service.refund`.
    """

    async def __call__(self, session: AsyncSession, image_id: uuid.UUID) -> bool: ...


class Outcome(StrEnum):
    completed = "completed"
    retried = "retried"
    failed = "failed"
    released = "released"
    lost = "lost"  # the lease was gone: the rescuer took the job; nothing was written


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt *n* waits ``base·2^(n-1)``, halved at random.

    "Equal jitter": the delay is uniform in ``[d/2, d]`` for ``d = min(cap,
    base·2^(n-1))`` so retries of many jobs that failed together (a GPU node lost, the
    database restarted) spread out instead of returning in lockstep, yet each still
    waits at least half its nominal delay.
    """

    base_seconds: float = 5.0
    max_seconds: float = 600.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        nominal = min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        jitter = (rng or random).uniform(0.5, 1.0)
        return timedelta(seconds=nominal * jitter)


def owned(job: ClaimedJob) -> ColumnElement[bool]:
    """The lease predicate."""
    return and_(
        Job.id == job.id,
        Job.worker_id == job.worker_id,
        Job.attempts == job.attempts,
        Job.status == JobStatus.processing.value,
    )


async def _set_images(
    session: AsyncSession,
    image_ids: Sequence[uuid.UUID],
    status: ImageStatus,
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    if not image_ids:
        return
    await session.execute(
        update(Image)
        .where(Image.id.in_(list(image_ids)))
        .values(status=status, error=error, updated_at=db_now(session), **dict(extra or {}))
        .execution_options(synchronize_session=False)
    )
    if status in (ImageStatus.ready, ImageStatus.error):
        # Outbound webhooks (image.ready / image.failed) are emitted in this very
        # transaction, so an event exists iff the status change committed. Imported
        # here: the webhooks package enqueues its deliveries through this queue.
        from vstage.webhooks.events import emit_image_events

        await emit_image_events(session, image_ids, status)


async def complete(
    session: AsyncSession,
    job: ClaimedJob,
    result: JobResult,
    *,
    progress: dict[str, Any] | None = None,
) -> bool:
    """Mark the job completed and apply its result, iff the lease still holds."""
    values: dict[str, Any] = {
        "status": JobStatus.completed.value,
        "finished_at": db_now(session),
        "result_json": dict(result.data) if result.data is not None else null(),
        "error": None,
    }
    if progress is not None:
        values["progress_json"] = progress
    row = (
        await session.execute(
            update(Job)
            .where(owned(job))
            .values(**values)
            .returning(Job.id, Job.image_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return False
    if row.image_id is not None:
        await _set_images(session, [row.image_id], ImageStatus.ready, None, result.image)
    if result.apply is not None:
        await result.apply(session)
    return True


_COMPLETE_MANY = text(
    """
    UPDATE jobs AS j
    SET status = 'completed', finished_at = statement_timestamp(), error = NULL,
        result_json = CAST(v.result AS jsonb),
        progress_json = COALESCE(CAST(v.progress AS jsonb), j.progress_json)
    FROM unnest(:ids, :attempts, :results, :progress) AS v(id, attempts, result, progress)
    WHERE j.id = v.id AND j.attempts = v.attempts
      AND j.worker_id = :worker_id AND j.status = 'processing'
    RETURNING j.id, j.attempts, j.image_id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("attempts", type_=ARRAY(Integer())),
    bindparam("results", type_=ARRAY(Text())),
    bindparam("progress", type_=ARRAY(Text())),
)


async def complete_many(
    session: AsyncSession,
    worker_id: str,
    items: Sequence[tuple[ClaimedJob, JobResult, dict[str, Any] | None]],
) -> set[tuple[uuid.UUID, int]]:
    """:func:`complete` for many jobs of one worker in one statement (PostgreSQL only).

    A worker running many short jobs would otherwise spend a transaction per job; this
    is the queue's group commit. Results with an ``apply`` callback are not accepted
    here (they need their own transaction). Returns the ``(id, attempts)`` leases that
    were still held, i.e. the jobs that are now completed.
    """
    if not items:
        return set()
    if any(result.apply is not None for _, result, _ in items):
        raise ValueError("results with apply() must be completed one by one")
    rows = (
        await session.execute(
            _COMPLETE_MANY,
            {
                "ids": [job.id for job, _, _ in items],
                "attempts": [job.attempts for job, _, _ in items],
                "results": [
                    json.dumps(dict(r.data)) if r.data is not None else None for _, r, _ in items
                ],
                "progress": [json.dumps(p) if p is not None else None for _, _, p in items],
                "worker_id": worker_id,
            },
        )
    ).all()
    done = {(row.id, row.attempts) for row in rows}
    image_ids = {row.id: row.image_id for row in rows if row.image_id is not None}
    plain: list[uuid.UUID] = []
    for job, result, _ in items:
        image_id = image_ids.get(job.id)
        if image_id is None or (job.id, job.attempts) not in done:
            continue
        if result.image:
            await _set_images(session, [image_id], ImageStatus.ready, None, result.image)
        else:
            plain.append(image_id)
    await _set_images(session, plain, ImageStatus.ready)
    return done


async def fail_final(
    session: AsyncSession,
    where: ColumnElement[bool],
    *,
    error: str,
    user_message: str,
    refund: RefundHook,
) -> list[uuid.UUID]:
    """The one final-failure path (worker and rescuer): job ``failed``, image ``error``, refund.

    Returns the ids of the jobs it failed; only those get their image refunded, so
    a refund happens in exactly the transaction that moved the job to ``failed``.
    """
    rows = (
        await session.execute(
            update(Job)
            .where(where)
            .values(status=JobStatus.failed.value, error=error, finished_at=db_now(session))
            .returning(Job.id, Job.image_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    image_ids = [row.image_id for row in rows if row.image_id is not None]
    await _set_images(session, image_ids, ImageStatus.error, user_message)
    for image_id in image_ids:
        await refund(session, image_id)
    return [row.id for row in rows]


async def requeue(
    session: AsyncSession, where: ColumnElement[bool], *, delay: timedelta, error: str | None
) -> list[uuid.UUID]:
    """Put matching jobs back to ``queued``, due after ``delay``; their images too."""
    values: dict[str, Any] = {
        "status": JobStatus.queued.value,
        "run_after": db_now(session, delay),
        "heartbeat_at": None,
    }
    if error is not None:
        values["error"] = error
    rows = (
        await session.execute(
            update(Job)
            .where(where)
            .values(**values)
            .returning(Job.id, Job.image_id, Job.type)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await _set_images(
        session, [r.image_id for r in rows if r.image_id is not None], ImageStatus.queued
    )
    for job_type in {r.type for r in rows}:
        await notify_workers(session, job_type)
    return [row.id for row in rows]


async def fail(
    session: AsyncSession,
    job: ClaimedJob,
    failure: Failure,
    *,
    policy: RetryPolicy,
    refund: RefundHook,
) -> Outcome:
    """Record a failed attempt: retry with backoff, or fail for good (permanent/exhausted)."""
    if failure.permanent or job.attempts >= job.max_attempts:
        failed = await fail_final(
            session,
            owned(job),
            error=failure.error,
            user_message=final_user_message(failure, job.attempts),
            refund=refund,
        )
        return Outcome.failed if failed else Outcome.lost
    delay = failure.retry_after if failure.retry_after is not None else policy.delay(job.attempts)
    requeued = await requeue(session, owned(job), delay=delay, error=failure.error)
    return Outcome.retried if requeued else Outcome.lost


async def release(session: AsyncSession, job: ClaimedJob) -> bool:
    """Give a job back untouched (worker shutting down): queued, due now, attempt not counted."""
    rows = (
        await session.execute(
            update(Job)
            .where(owned(job))
            .values(
                status=JobStatus.queued.value,
                attempts=Job.attempts - 1,
                run_after=db_now(session),
                heartbeat_at=None,
                progress_json=null(),
            )
            .returning(Job.image_id, Job.type)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not rows:
        return False
    await _set_images(
        session, [r.image_id for r in rows if r.image_id is not None], ImageStatus.queued
    )
    await notify_workers(session, rows[0].type)
    return True


async def retry_failed(session: AsyncSession, job_id: uuid.UUID) -> Job:
    """Requeue a ``failed`` job from scratch (the admin "retry" action).

    Attempts start again from zero and the image goes back to ``queued``. The image is
    **not charged again**: its charge was refunded when the job failed, and a retry an
    operator decides on is on the house (the failure was ours, or we would not retry).
    Should this retry fail too, the refund hook finds nothing left to refund.
    """
    job = await session.scalar(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None:
        raise NotFound("job not found")
    if job.status != JobStatus.failed.value:
        raise Conflict(f"only failed jobs can be retried; this one is {job.status}")
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status=JobStatus.queued.value,
            attempts=0,
            error=None,
            run_after=db_now(session),
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            worker_id=None,
            progress_json=null(),
            result_json=null(),
        )
        .execution_options(synchronize_session=False)
    )
    if job.image_id is not None:
        await _set_images(session, [job.image_id], ImageStatus.queued)
    await notify_workers(session, job.type)
    await session.refresh(job)
    return job
