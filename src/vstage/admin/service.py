"""Operator actions, no HTTP. Callers are checked for the admin role by the endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Job, JobStatus
from vstage.pagination import PageParams, paginate
from vstage.queue.transitions import retry_failed


async def list_jobs(
    session: AsyncSession,
    page: PageParams,
    *,
    status: JobStatus | None = None,
    job_type: str | None = None,
) -> Sequence[Job]:
    """Jobs newest first, optionally of one status and/or type (``limit + 1`` rows)."""
    stmt = select(Job)
    if status is not None:
        stmt = stmt.where(Job.status == status.value)
    if job_type is not None:
        stmt = stmt.where(Job.type == job_type)
    return (await session.scalars(paginate(stmt, page, Job.created_at, Job.id))).all()


async def retry_job(session: AsyncSession, job_id: uuid.UUID) -> Job:
    """Requeue a failed job from scratch; **no new charge** (see :func:`retry_failed`)."""
    return await retry_failed(session, job_id)
