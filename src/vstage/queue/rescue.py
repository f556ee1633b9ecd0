"""The rescuer: takes jobs back from workers that stopped heartbeating.

A worker heartbeats every ``VSTAGE_JOB_HEARTBEAT_SECONDS`` for each job it runs. A
``processing`` job whose heartbeat is older than ``VSTAGE_JOB_HEARTBEAT_TIMEOUT_SECONDS``
belongs to a worker that crashed, was killed, or lost its database: it goes back to
``queued`` (with the usual backoff, since the job itself may be what kills workers), or
fails for good once its attempts are used up, through the same final-failure path as
any other failure (image ``error``, refund). Every worker runs the rescuer
periodically and ``vstage rescue`` runs it once; concurrent rescuers skip each other's
locked rows, and each transition re-checks ``status='processing'`` under the row lock,
so a stale job is rescued once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import Settings
from vstage.db import Database
from vstage.models import Job, JobStatus
from vstage.queue import metrics
from vstage.queue.clock import db_now, dialect_of
from vstage.queue.errors import Failure, final_user_message
from vstage.queue.transitions import RefundHook, RetryPolicy, fail_final, requeue

log = logging.getLogger(__name__)

BATCH = 100


@dataclass
class RescueReport:
    requeued: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.requeued) + len(self.failed)


def _lost_message(attempt: int) -> str:
    return (
        f"attempt {attempt}: the worker running this job stopped heartbeating "
        "(crashed, killed, or lost its database connection)"
    )


async def rescue_stale(
    session: AsyncSession,
    *,
    stale_after: timedelta,
    policy: RetryPolicy,
    refund: RefundHook,
    limit: int = BATCH,
) -> RescueReport:
    """Requeue or fail up to ``limit`` jobs with a stale heartbeat, in the caller's transaction."""
    cutoff = db_now(session, -stale_after)
    stale = (
        select(Job.id, Job.attempts, Job.max_attempts)
        .where(
            Job.status == JobStatus.processing.value,
            or_(Job.heartbeat_at < cutoff, Job.heartbeat_at.is_(None)),
        )
        .order_by(Job.heartbeat_at)
        .limit(limit)
    )
    if dialect_of(session) == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    report = RescueReport()
    for row in (await session.execute(stale)).all():
        still_stale = and_(Job.id == row.id, Job.status == JobStatus.processing.value)
        error = _lost_message(row.attempts)
        if row.attempts >= row.max_attempts:
            user_message = final_user_message(Failure(False, error), row.attempts)
            report.failed += await fail_final(
                session, still_stale, error=error, user_message=user_message, refund=refund
            )
        else:
            delay = policy.delay(row.attempts)
            report.requeued += await requeue(session, still_stale, delay=delay, error=error)
    return report


async def rescue_once(db: Database, settings: Settings, refund: RefundHook) -> RescueReport:
    """Rescue every stale job now, in batches of :data:`BATCH` per transaction."""
    total = RescueReport()
    while True:
        async with db.transaction() as session:
            report = await rescue_stale(
                session,
                stale_after=timedelta(seconds=settings.job_heartbeat_timeout_seconds),
                policy=RetryPolicy(settings.job_retry_base_seconds, settings.job_retry_max_seconds),
                refund=refund,
            )
        total.requeued += report.requeued
        total.failed += report.failed
        metrics.JOBS_RESCUED.labels("requeued").inc(len(report.requeued))
        metrics.JOBS_RESCUED.labels("failed").inc(len(report.failed))
        for job_id in report.requeued:
            log.warning("rescued job %s from a worker that stopped heartbeating; requeued", job_id)
        for job_id in report.failed:
            log.error("job %s lost its worker on its last attempt; failed", job_id)
        if report.total < BATCH:
            return total
