"""Admin pages (role admin; others get the 403 page): users with role change, and jobs
with their errors and a retry button for failed ones."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vstage.admin import service as admin
from vstage.admin import users
from vstage.dependencies import SessionDep
from vstage.errors import Conflict, InvalidInput
from vstage.models import JobStatus, Role
from vstage.pagination import PageParams, decode_cursor, encode_cursor
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import WebAdmin
from vstage.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/admin")
async def admin_home(_admin: WebAdmin) -> Response:
    return RedirectResponse("/admin/jobs", status_code=303)


@router.get("/admin/users")
async def users_page(
    request: Request,
    _admin: WebAdmin,
    session: SessionDep,
    cursor: str | None = None,
    changed: str | None = None,
    refused: str | None = None,
) -> Response:
    page = PageParams(limit=PAGE_SIZE, cursor=decode_cursor(cursor) if cursor else None)
    rows = list(await users.list_users(session, page))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(
        request,
        "admin/users.html",
        {
            "users": rows,
            "roles": [r.value for r in Role],
            "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
            "changed": changed,
            "refused": refused,
        },
    )


@router.post("/admin/users/{user_id}/role")
async def change_role(
    user_id: uuid.UUID,
    _csrf: CsrfProtected,
    _admin: WebAdmin,
    session: SessionDep,
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    """Same service as ``PATCH /v1/admin/users/{id}``; effective at the user's next
    request. Refusals (the last admin cannot step down) come back as a message."""
    try:
        chosen = Role(role)
    except ValueError:
        raise InvalidInput(f"role must be one of: {', '.join(r.value for r in Role)}") from None
    try:
        async with session.begin_nested():
            await users.set_role(session, user_id, chosen)
    except Conflict as exc:
        return RedirectResponse(f"/admin/users?refused={quote(exc.message)}", status_code=303)
    return RedirectResponse(f"/admin/users?changed={user_id}", status_code=303)


@router.get("/admin/jobs")
async def jobs_page(
    request: Request,
    _admin: WebAdmin,
    session: SessionDep,
    status: str = JobStatus.failed.value,
    cursor: str | None = None,
    retried: str | None = None,
    conflict: str | None = None,
) -> Response:
    chosen = JobStatus(status) if status in {s.value for s in JobStatus} else None
    page = PageParams(limit=PAGE_SIZE, cursor=decode_cursor(cursor) if cursor else None)
    rows = list(await admin.list_jobs(session, page, status=chosen))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(
        request,
        "admin/jobs.html",
        {
            "jobs": rows,
            "status": chosen.value if chosen else "all",
            "statuses": [s.value for s in JobStatus],
            "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
            "retried": retried,
            "conflict": conflict,
        },
    )


@router.post("/admin/jobs/{job_id}/retry")
async def retry(
    job_id: uuid.UUID, _csrf: CsrfProtected, _admin: WebAdmin, session: SessionDep
) -> Response:
    """Same service as ``POST /v1/admin/jobs/{id}/retry`` (requeued, not charged again)."""
    try:
        job = await admin.retry_job(session, job_id)
    except Conflict:
        return RedirectResponse(f"/admin/jobs?conflict={job_id}", status_code=303)
    return RedirectResponse(f"/admin/jobs?retried={job.id}", status_code=303)
