"""Projects list: create, rename and delete (with a confirmation page)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from starlette.responses import RedirectResponse, Response

from vstage.dependencies import SessionDep, StorageDep
from vstage.images import files
from vstage.images.service import project_keys
from vstage.pagination import PageParams, decode_cursor, encode_cursor
from vstage.projects import service
from vstage.projects.schemas import ProjectCreate, ProjectUpdate
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import WebUser
from vstage.web.forms import parse_form
from vstage.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/projects", status_code=303)


async def _list_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    cursor: str | None,
    *,
    error: str | None = None,
    name: str = "",
    status_code: int = 200,
) -> Response:
    page = PageParams(limit=PAGE_SIZE, cursor=decode_cursor(cursor) if cursor else None)
    rows = list(await service.list_projects(session, user, page))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return render(
        request,
        "projects.html",
        {"projects": rows, "next_cursor": next_cursor, "error": error, "name": name},
        status_code=status_code,
    )


@router.get("/projects")
async def projects_page(
    request: Request, user: WebUser, session: SessionDep, cursor: str | None = None
) -> Response:
    return await _list_page(request, user, session, cursor)


@router.post("/projects")
async def create_project(
    request: Request,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
) -> Response:
    body, error = parse_form(ProjectCreate, name=name)
    if body is None:
        return await _list_page(
            request, user, session, None, error=error, name=name, status_code=422
        )
    project = await service.create_project(session, user, body.name)
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.post("/projects/{project_id}/rename")
async def rename_project(
    request: Request,
    project_id: uuid.UUID,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
) -> Response:
    body, _error = parse_form(ProjectUpdate, name=name)
    if body is None:
        await service.get_project(session, user, project_id)  # 404 before 422
        return RedirectResponse(f"/projects/{project_id}?rename_error=1", status_code=303)
    await service.rename_project(session, user, project_id, body.name)
    return RedirectResponse(f"/projects/{project_id}", status_code=303)


@router.get("/projects/{project_id}/delete")
async def confirm_delete(
    request: Request, project_id: uuid.UUID, user: WebUser, session: SessionDep
) -> Response:
    project = await service.get_project(session, user, project_id)
    return render(
        request,
        "confirm_delete.html",
        {
            "what": f"project “{project.name}”",
            "detail": "All its photos and staged images are deleted too. This cannot be undone.",
            "action": f"/projects/{project.id}/delete",
            "cancel": f"/projects/{project.id}",
        },
    )


@router.post("/projects/{project_id}/delete")
async def delete_project(
    project_id: uuid.UUID,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """As ``DELETE /v1/projects/{id}``: rows now, stored files once that has committed."""
    project = await service.get_project(session, user, project_id, for_update=True)
    keys = await project_keys(session, project.id)
    await service.delete_project(session, user, project_id)
    background.add_task(
        files.delete_project_objects, storage, user_id=user.id, project_id=project_id, keys=keys
    )
    return RedirectResponse("/projects", status_code=303)
