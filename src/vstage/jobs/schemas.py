from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from vstage.models import Job, JobStatus


class JobRead(BaseModel):
    """A job on one of the caller's images.

    ``error`` is the message meant for the image's owner, set once the job has finally
    failed; the technical detail (tracebacks) stays with operators (logs, admin API).
    """

    id: uuid.UUID
    image_id: uuid.UUID | None
    type: str
    status: JobStatus
    attempts: int
    max_attempts: int
    progress: dict[str, Any] | None
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job, *, user_error: str | None = None) -> JobRead:
        return cls(
            id=job.id,
            image_id=job.image_id,
            type=job.type,
            status=JobStatus(job.status),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            progress=job.progress_json,
            error=user_error if job.status == JobStatus.failed.value else None,
            result=job.result_json,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
