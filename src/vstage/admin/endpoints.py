"""``/v1/admin``: operator endpoints. Every route requires the admin role (else 403)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from vstage.admin import service
from vstage.admin.schemas import AdminJobRead
from vstage.auth.dependencies import AdminUser
from vstage.dependencies import SessionDep
from vstage.models import JobStatus
from vstage.pagination import Page, PageDep, page_of

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/jobs", response_model=Page[AdminJobRead])
async def list_jobs(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    type: Annotated[
        str | None, Query(max_length=100, description="Only jobs of this type.")
    ] = None,
) -> Page[AdminJobRead]:
    """All users' jobs, newest first; filter by status and type."""
    rows = await service.list_jobs(session, page, status=status, job_type=type)
    return page_of(rows, page, AdminJobRead.model_validate)


@router.post("/jobs/{job_id}/retry", response_model=AdminJobRead)
async def retry_job(job_id: uuid.UUID, _admin: AdminUser, session: SessionDep) -> AdminJobRead:
    """Requeue a failed job: attempts start over and its image goes back to ``queued``.

    The image is **not charged again**: its charge was refunded when the job failed,
    and a retry decided by an operator is on the house. 404 for an unknown job, 409
    for a job that has not failed.
    """
    return AdminJobRead.model_validate(await service.retry_job(session, job_id))
