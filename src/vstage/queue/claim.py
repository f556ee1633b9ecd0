"""Claiming runnable jobs: one statement, safe under any number of concurrent workers.

The claim is ``UPDATE jobs … WHERE id IN (SELECT id … FOR UPDATE SKIP LOCKED LIMIT n)
RETURNING …``: the inner select locks up to ``n`` of the oldest runnable jobs that no
other transaction holds and skips the rest, so concurrent claimers never wait for each
other and never get the same job. ``ix_jobs_claim`` (``run_after, id`` on queued rows
only) serves both the filter and the order, so a claim reads ``n`` index entries
however long the backlog is. SQLite has no row locks; its write transactions are
serialised (``BEGIN IMMEDIATE``), which gives the same guarantee for its single
in-process worker.

The statements are built once per dialect and shape and reused with parameters: a
claim sits on the path from "job committed" to "handler running", and building a
statement with CTEs anew costs more Python time than the database needs to run it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    Table,
    Text,
    bindparam,
    func,
    null,
    select,
    update,
)

from vstage.models import Image, ImageStatus, Job, JobStatus, UTCDateTime, utcnow
from vstage.queue.clock import Bind, dialect_of

_jobs = cast(Table, Job.__table__)
_images = cast(Table, Image.__table__)


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


def _now(dialect: str) -> ColumnElement[datetime]:
    """The database clock on PostgreSQL; on SQLite a ``now`` parameter (see ``clock``)."""
    if dialect == "postgresql":
        return func.statement_timestamp(type_=UTCDateTime())
    return bindparam("now", type_=UTCDateTime())


@cache
def claim_statement(dialect: str, filtered: bool) -> Executable:
    """The claim, with parameters ``worker_id``, ``limit`` (and ``types``, ``now``).

    On PostgreSQL the images of the claimed jobs are updated by the same statement
    (a data-modifying CTE), so a worker claims in one round trip without a transaction
    around it; SQLite, which lacks those, gets a second statement.
    """
    now = _now(dialect)
    due = select(_jobs.c.id).where(
        _jobs.c.status == JobStatus.queued.value, _jobs.c.run_after <= now
    )
    if filtered:
        due = due.where(_jobs.c.type.in_(bindparam("types", expanding=True)))
    due = due.order_by(_jobs.c.run_after, _jobs.c.id).limit(bindparam("limit", type_=Integer()))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = (
        update(_jobs)
        .where(_jobs.c.id.in_(due.scalar_subquery()))
        .values(
            status=JobStatus.processing.value,
            started_at=now,
            heartbeat_at=now,
            worker_id=bindparam("worker_id", type_=Text()),
            attempts=_jobs.c.attempts + 1,
            progress_json=null(),
        )
        .returning(
            _jobs.c.id,
            _jobs.c.type,
            _jobs.c.payload_json,
            _jobs.c.image_id,
            _jobs.c.attempts,
            _jobs.c.max_attempts,
            _jobs.c.created_at,
            _jobs.c.run_after,
            _jobs.c.started_at,
        )
    )
    if dialect != "postgresql":
        return claimed
    jobs = claimed.cte("claimed")
    images = (
        update(_images)
        .where(_images.c.id.in_(select(jobs.c.image_id).where(jobs.c.image_id.is_not(None))))
        .values(status=ImageStatus.processing, updated_at=now)
    )
    return select(*jobs.c).add_cte(images.cte("claimed_images"))


@cache
def _images_processing(dialect: str) -> Executable:
    now = _now(dialect)
    return (
        update(_images)
        .where(_images.c.id.in_(bindparam("image_ids", expanding=True)))
        .values(status=ImageStatus.processing, updated_at=now)
    )


def claim_params(
    dialect: str, worker_id: str, limit: int, types: Sequence[str] | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"worker_id": worker_id, "limit": limit}
    if types is not None:
        params["types"] = list(types)
    if dialect != "postgresql":
        params["now"] = utcnow()
    return params


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
    connection in autocommit mode (the claim is one atomic statement).
    """
    if limit < 1 or (types is not None and not types):
        return []
    dialect = dialect_of(bind)
    stmt = claim_statement(dialect, types is not None)
    params = claim_params(dialect, worker_id, limit, types)
    rows = (await bind.execute(stmt, params)).all()
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
    if image_ids and dialect != "postgresql":
        await bind.execute(_images_processing(dialect), {"image_ids": image_ids, "now": utcnow()})
    return jobs


@cache
def _next_due_statement(dialect: str, filtered: bool) -> Executable:
    due = func.min(_jobs.c.run_after)
    column = due if dialect != "postgresql" else func.extract("epoch", due - _now(dialect))
    stmt = select(column).where(_jobs.c.status == JobStatus.queued.value)
    if filtered:
        stmt = stmt.where(_jobs.c.type.in_(bindparam("types", expanding=True)))
    return stmt


async def next_due(bind: Bind, types: Sequence[str] | None = None) -> datetime | None:
    """When the earliest queued job becomes runnable (``None``: nothing queued)."""
    stmt = select(func.min(Job.run_after)).where(Job.status == JobStatus.queued.value)
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    result: datetime | None = (await bind.execute(stmt)).scalar()
    return result


async def seconds_until_due(bind: Bind, types: Sequence[str] | None = None) -> float | None:
    """Seconds until the earliest queued job is runnable (negative: overdue; ``None``: none).

    Lets an idle worker sleep exactly until a delayed retry is due instead of polling
    for it; ``ix_jobs_claim`` answers it from its first entry. On PostgreSQL the
    difference is taken on the database clock.
    """
    dialect = dialect_of(bind)
    params = {"types": list(types)} if types is not None else {}
    value = (await bind.execute(_next_due_statement(dialect, types is not None), params)).scalar()
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value - utcnow()).total_seconds()
    return float(value)
