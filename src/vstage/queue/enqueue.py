"""Putting a job on the queue, inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import get_settings
from vstage.models import Job, JobStatus
from vstage.queue.clock import db_now
from vstage.queue.notify import notify_workers


async def enqueue(
    session: AsyncSession,
    *,
    type: str,
    payload: BaseModel | dict[str, Any],
    image_id: uuid.UUID | None,
    max_attempts: int | None = None,
    run_after: datetime | timedelta | None = None,
) -> Job:
    """Insert a queued job in the caller's transaction and return it (flushed, not committed).

    Being part of the caller's transaction is the point: the job becomes visible to
    workers exactly when the rows it works on (the image, the usage charge) do, and
    vanishes with them on rollback. Idle workers are woken after COMMIT (see
    :mod:`vstage.queue.notify`).

    ``payload`` is stored as JSON (a pydantic model is dumped in JSON mode, a dict's
    UUIDs and datetimes become strings) and validated again by the handler's payload
    model when the job runs. ``max_attempts``
    defaults to ``VSTAGE_JOB_MAX_ATTEMPTS``. ``run_after`` delays the job: an absolute
    time, or a delay from now.
    """
    data: dict[str, Any] = (
        payload.model_dump(mode="json")
        if isinstance(payload, BaseModel)
        else to_jsonable_python(dict(payload))  # UUIDs, datetimes… as JSON strings
    )
    if max_attempts is None:
        max_attempts = get_settings().job_max_attempts
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if isinstance(run_after, datetime):
        due: Any = run_after
    else:
        due = db_now(session, run_after)
    stmt = (
        insert(Job)
        .values(
            id=uuid.uuid4(),
            image_id=image_id,
            type=type,
            payload_json=data,
            status=JobStatus.queued.value,
            attempts=0,
            max_attempts=max_attempts,
            created_at=db_now(session),
            run_after=due,
        )
        .returning(Job)
    )
    job = (await session.scalars(stmt)).one()
    await notify_workers(session, type)
    return job
