"""The project page: upload form, pickers and the live grid of its images."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from vstage.dependencies import SessionDep, SettingsDep
from vstage.errors import NotFound
from vstage.images import service as images
from vstage.pagination import PageParams
from vstage.projects import service as projects
from vstage.web.deps import WebUser, is_htmx
from vstage.web.templating import render
from vstage.web.views import catalog_context, view_of

router = APIRouter(include_in_schema=False)

GRID_SIZE = 100
#: htmx stops polling an element whose request is answered with this status.
HTMX_STOP_POLLING = 286


@router.get("/projects/{project_id}")
async def project_page(
    request: Request,
    project_id: uuid.UUID,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    rename_error: str | None = None,
) -> Response:
    project = await projects.get_project(session, user, project_id)
    rows = await images.list_images(
        session, user, project_id, PageParams(limit=GRID_SIZE, cursor=None)
    )
    views = [await view_of(session, image) for image in list(rows)[:GRID_SIZE]]
    return render(
        request,
        "project.html",
        {
            "project": project,
            "images": views,
            "more_images": len(rows) > GRID_SIZE,
            "max_upload_bytes": settings.max_upload_bytes,
            "rename_error": rename_error is not None,
            **catalog_context(),
        },
    )


@router.get("/images/{image_id}/card")
async def image_card(
    request: Request,
    image_id: uuid.UUID,
    user: WebUser,
    session: SessionDep,
    view: str = "card",
) -> Response:
    """The polled fragment: htmx swaps it in every second until the image is final."""
    try:
        image = await images.get_image(session, user, image_id)
    except NotFound:
        if is_htmx(request):
            return Response(status_code=HTMX_STOP_POLLING)
        raise
    item = await view_of(session, image)
    if view == "status":
        # On the image page: once final, reload it to show the slider (or the error).
        headers = {"HX-Refresh": "true"} if item.final else None
        return render(request, "partials/image_status.html", {"item": item}, headers=headers)
    return render(request, "partials/image_card.html", {"item": item})
