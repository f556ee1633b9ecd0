"""``GET /v1/jobs/{id}``: status, attempts, progress, error and result of one job."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from vstage.auth.dependencies import CurrentSubject
from vstage.dependencies import DatabaseDep
from vstage.jobs import service
from vstage.jobs.schemas import JobRead

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobRead)
async def get_job(job_id: uuid.UUID, sub: CurrentSubject, db: DatabaseDep) -> JobRead:
    """Polled by clients: one prepared query in a plain session (nothing to commit)."""
    async with db.sessionmaker() as session:
        job, image_error = await service.get_job(session, sub, job_id)
        return JobRead.of(job, user_error=image_error)
