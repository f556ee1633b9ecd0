"""The project page's "Stage all" control and its live batch progress.

Both call :mod:`vstage.batches.service`, the code behind ``POST /v1/projects/{id}/stage``;
the form stages every photo of the project that was never staged, with the chosen room
type and style and one shared style seed.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vstage.batches import service as batches
from vstage.dependencies import SessionDep, SettingsDep
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import WebUser
from vstage.web.templating import render

router = APIRouter(include_in_schema=False)


@router.post("/projects/{project_id}/stage")
async def stage_all(
    project_id: uuid.UUID,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    room_type: Annotated[str, Form()] = "",
    style: Annotated[str, Form()] = "",
) -> Response:
    await batches.stage_project(
        session,
        user,
        project_id,
        room_type=room_type,
        style=style,
        image_ids=None,
        style_seed=None,
        settings=settings,
    )
    return RedirectResponse(f"/projects/{project_id}", status_code=303)


@router.get("/projects/{project_id}/batch")
async def batch_progress(
    request: Request, project_id: uuid.UUID, user: WebUser, session: SessionDep
) -> Response:
    """The polled fragment: re-fetched every 2 s until the batch is finished."""
    progress = await batches.latest_batch_progress(session, user, project_id)
    return render(
        request,
        "partials/batch_progress.html",
        {"project_id": project_id, "batch": progress},
    )
