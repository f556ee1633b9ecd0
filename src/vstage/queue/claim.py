"""Claiming runnable jobs: one statement, safe under any number of concurrent workers.

The claim is ``UPDATE jobs … WHERE id IN (SELECT id … FOR UPDATE SKIP LOCKED LIMIT n)
RETURNING …``: the inner select locks up to ``n`` of the oldest runnable jobs that no
other transaction holds and skips the rest, so concurrent claimers never wait for each
other and never get the same job. ``ix_jobs_claim`` (``run_after, id`` on queued rows
only) serves both the filter and the order, so a claim reads ``n`` index entries
however long the backlog is. SQLite has no row locks; its write transactions are
serialised (``BEGIN IMMEDIATE``), which gives the same guarantee for its single
in-process worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Select, Update, func, null, select, update

from vstage.models import Image, ImageStatus, Job, JobStatus, utcnow
from vstage.queue.clock import Bind, db_now, dialect_of


@dataclass(frozen=True)
class ClaimedJob:
    """A job as its worker holds it; ``(id, worker_id, attempts)`` is the lease.

    Every later change the worker makes (progress, completion, failure, release)
    matches all three *and* ``status='processing'``, so it has no effect once the job
    was rescued from this worker or claimed again, even by this same worker.
    """

    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    image_id: uuid.UUID | None
    attempts: int
    max_attempts: int
    worker_id: str
    created_at: datetime
    run_after: datetime
    started_at: datetime


def runnable(bind: Bind, types: Sequence[str] | None, limit: int) -> Select[uuid.UUID]:
    """The ids a claim takes: oldest due first, locked rows skipped (PostgreSQL)."""
    stmt = select(Job.id).where(Job.status == JobStatus.queued.value, Job.run_after <= db_now(bind))
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    stmt = stmt.order_by(Job.run_after, Job.id).limit(limit)
    if dialect_of(bind) == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


async def claim(
    bind: Bind,
    worker_id: str,
    *,
    limit: int = 1,
    types: Sequence[str] | None = None,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` runnable jobs for ``worker_id``.

    Each claimed job becomes ``processing`` with ``attempts + 1`` and a fresh
    heartbeat; its image (if any) becomes ``processing`` too. ``types`` restricts the
    claim to those job types (``None``: any type).

    ``bind`` is a session (the claim joins its transaction) or, on PostgreSQL, a
    connection in autocommit mode: there the claim is one statement, jobs and images
    together, so a worker claims in a single round trip.
    """
    if limit < 1 or (types is not None and not types):
        return []
    postgres = dialect_of(bind) == "postgresql"
    rows = (await bind.execute(claim_statement(bind, worker_id, limit, types))).all()
    jobs = [
        ClaimedJob(
            id=row.id,
            type=row.type,
            payload=row.payload_json or {},
            image_id=row.image_id,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            worker_id=worker_id,
            created_at=row.created_at,
            run_after=row.run_after,
            started_at=row.started_at,
        )
        for row in rows
    ]
    image_ids = [job.image_id for job in jobs if job.image_id is not None]
    if image_ids and not postgres:
        await bind.execute(_images_processing(bind, image_ids))
    return jobs


def _images_processing(bind: Bind, image_ids: Any) -> Update:
    return (
        update(Image)
        .where(Image.id.in_(image_ids))
        .values(status=ImageStatus.processing, updated_at=db_now(bind))
        .execution_options(synchronize_session=False)
    )


def claim_statement(
    bind: Bind, worker_id: str, limit: int, types: Sequence[str] | None
) -> Executable:
    """The claim itself (separate so a test can ``EXPLAIN`` exactly this statement).

    On PostgreSQL the images of the claimed jobs are updated by the same statement
    (a data-modifying CTE); SQLite, which lacks those, gets a second statement.
    """
    now = db_now(bind)
    ids = runnable(bind, types, limit).scalar_subquery()
    claimed = (
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            status=JobStatus.processing.value,
            started_at=now,
            heartbeat_at=now,
            worker_id=worker_id,
            attempts=Job.attempts + 1,
            progress_json=null(),
        )
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    if dialect_of(bind) != "postgresql":
        return claimed
    jobs = claimed.cte("claimed")
    images = _images_processing(bind, select(jobs.c.image_id).where(jobs.c.image_id.is_not(None)))
    return select(*jobs.c).add_cte(images.cte("claimed_images"))


_CLAIMED_COLUMNS = (
    Job.id,
    Job.type,
    Job.payload_json,
    Job.image_id,
    Job.attempts,
    Job.max_attempts,
    Job.created_at,
    Job.run_after,
    Job.started_at,
)


async def next_due(bind: Bind, types: Sequence[str] | None = None) -> datetime | None:
    """When the earliest queued job becomes runnable (``None``: nothing queued).

    Lets an idle worker sleep exactly until a delayed retry is due instead of
    polling for it; ``ix_jobs_claim`` answers it from its first entry.
    """
    stmt = select(func.min(Job.run_after)).where(Job.status == JobStatus.queued.value)
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    result: datetime | None = (await bind.execute(stmt)).scalar()
    return result


async def seconds_until_due(bind: Bind, types: Sequence[str] | None = None) -> float | None:
    """:func:`next_due` as seconds from now on the database clock (negative: overdue)."""
    if dialect_of(bind) != "postgresql":
        due = await next_due(bind, types)
        return None if due is None else (due - utcnow()).total_seconds()
    stmt = select(
        func.extract("epoch", func.min(Job.run_after) - func.statement_timestamp())
    ).where(Job.status == JobStatus.queued.value)
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    seconds = (await bind.execute(stmt)).scalar()
    return None if seconds is None else float(seconds)
