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

from sqlalchemy import Select, Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Image, ImageStatus, Job, JobStatus
from vstage.queue.clock import db_now, dialect_of


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


def runnable(session: AsyncSession, types: Sequence[str] | None, limit: int) -> Select[uuid.UUID]:
    """The ids a claim takes: oldest due first, locked rows skipped (PostgreSQL)."""
    stmt = select(Job.id).where(
        Job.status == JobStatus.queued.value, Job.run_after <= db_now(session)
    )
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    stmt = stmt.order_by(Job.run_after, Job.id).limit(limit)
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


async def claim(
    session: AsyncSession,
    worker_id: str,
    *,
    limit: int = 1,
    types: Sequence[str] | None = None,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` runnable jobs for ``worker_id`` in the caller's transaction.

    Each claimed job becomes ``processing`` with ``attempts + 1`` and a fresh
    heartbeat; its image (if any) becomes ``processing`` too. ``types`` restricts the
    claim to those job types (``None``: any type).
    """
    if limit < 1 or (types is not None and not types):
        return []
    rows = (await session.execute(claim_statement(session, worker_id, limit, types))).all()
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
    if image_ids:
        await session.execute(
            update(Image)
            .where(Image.id.in_(image_ids))
            .values(status=ImageStatus.processing, updated_at=db_now(session))
            .execution_options(synchronize_session=False)
        )
    return jobs


def claim_statement(
    session: AsyncSession, worker_id: str, limit: int, types: Sequence[str] | None
) -> Update:
    """The claim itself (separate so a test can ``EXPLAIN`` exactly this statement)."""
    now = db_now(session)
    ids = runnable(session, types, limit).scalar_subquery()
    return (
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            status=JobStatus.processing.value,
            started_at=now,
            heartbeat_at=now,
            worker_id=worker_id,
            attempts=Job.attempts + 1,
            progress_json=None,
        )
        .returning(
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
        .execution_options(synchronize_session=False)
    )


async def next_due(session: AsyncSession, types: Sequence[str] | None = None) -> datetime | None:
    """When the earliest queued job becomes runnable (``None``: nothing queued).

    Lets an idle worker sleep exactly until a delayed retry is due instead of
    polling for it; ``ix_jobs_claim`` answers it from its first entry.
    """
    stmt = select(func.min(Job.run_after)).where(Job.status == JobStatus.queued.value)
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    result: datetime | None = await session.scalar(stmt)
    return result
