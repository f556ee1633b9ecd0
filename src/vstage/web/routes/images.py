"""The image page: before/after slider, variations, restage, new variation, download,
delete. Every action calls the image service functions the REST endpoints call."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from vstage.config import Settings
from vstage.dependencies import SessionDep, SettingsDep, StorageDep
from vstage.errors import Conflict, NotFound, VstageError
from vstage.images import files
from vstage.images import service as images
from vstage.models import Image, ImageStatus, User
from vstage.projects import service as projects
from vstage.storage import ObjectNotFound, content_disposition
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import WebUser
from vstage.web.labels import add_label
from vstage.web.queries import variations_of
from vstage.web.templating import render
from vstage.web.views import ImageView, catalog_context, view_of

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    session: AsyncSession,
    user: User,
    image: Image,
    *,
    action_error: VstageError | None = None,
) -> Response:
    project = await projects.get_project(session, user, image.project_id)
    item = await view_of(session, image)
    siblings = [ImageView(i, None) for i in await variations_of(session, image)]
    context = {
        "project": project,
        "item": item,
        "variations": siblings,
        "action_error": action_error,
        "over_quota": action_error is not None and action_error.status_code == 402,
        **catalog_context(),
    }
    status = action_error.status_code if action_error is not None else 200
    return render(request, "image.html", context, status_code=status)


@router.get("/images/{image_id}")
async def image_page(
    request: Request, image_id: uuid.UUID, user: WebUser, session: SessionDep
) -> Response:
    image = await images.get_image(session, user, image_id)
    return await _page(request, session, user, image)


async def _stage_again(
    request: Request,
    session: AsyncSession,
    user: User,
    settings: Settings,
    image_id: uuid.UUID,
    *,
    room_type: str | None,
    style: str | None,
) -> Response:
    """Restage (same service as ``POST /v1/images/{id}/restage``) inside a savepoint,
    so a refusal (402 over quota, 422 bad choice) leaves nothing behind and the page
    can explain it instead of failing as a whole."""
    try:
        async with session.begin_nested():
            new_image, _job = await images.restage(
                session,
                user,
                image_id,
                room_type=room_type,
                style=style,
                seed=None,
                settings=settings,
            )
    except VstageError as exc:
        if exc.status_code == 404:
            raise
        image = await images.get_image(session, user, image_id)
        return await _page(request, session, user, image, action_error=exc)
    return RedirectResponse(f"/images/{new_image.id}", status_code=303)


@router.post("/images/{image_id}/restage")
async def restage(
    request: Request,
    image_id: uuid.UUID,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    room_type: Annotated[str, Form(max_length=64)] = "",
    style: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Stage the same photo again with another style (or room type), new random seed."""
    return await _stage_again(
        request,
        session,
        user,
        settings,
        image_id,
        room_type=room_type or None,
        style=style or None,
    )


@router.post("/images/{image_id}/variation")
async def new_variation(
    request: Request,
    image_id: uuid.UUID,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Same photo, room type and style; only the seed is new."""
    return await _stage_again(
        request, session, user, settings, image_id, room_type=None, style=None
    )


@router.get("/images/{image_id}/download")
async def download(
    image_id: uuid.UUID,
    user: WebUser,
    session: SessionDep,
    storage: StorageDep,
    label: bool = False,
) -> Response:
    """The full-resolution result. Without a label this is ``GET /v1/images/{id}/staged``
    (streamed or presigned as storage allows); with one, a labelled copy made here."""
    image = await images.get_image(session, user, image_id)
    if image.staged_url is None or image.status != ImageStatus.ready:
        raise Conflict("this image is not staged yet")
    if not label:
        return RedirectResponse(f"/v1/images/{image.id}/staged", status_code=303)
    try:
        data = await storage.get(image.staged_url)
    except ObjectNotFound:
        raise NotFound("the stored file is missing") from None
    labelled, content_type = add_label(data)
    ext = "png" if content_type == "image/png" else "jpg"
    filename = f"{image.room_type}-{image.style}-{image.id.hex[:8]}-virtually-staged.{ext}"
    return Response(
        labelled,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/images/{image_id}/delete")
async def confirm_delete(
    request: Request, image_id: uuid.UUID, user: WebUser, session: SessionDep
) -> Response:
    image = await images.get_image(session, user, image_id)
    return render(
        request,
        "confirm_delete.html",
        {
            "what": "this image",
            "detail": "The staged result is deleted; the uploaded photo stays as long as "
            "another variation of it exists. This cannot be undone.",
            "action": f"/images/{image.id}/delete",
            "cancel": f"/images/{image.id}",
        },
    )


@router.post("/images/{image_id}/delete")
async def delete(
    image_id: uuid.UUID,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """As ``DELETE /v1/images/{id}``: rows now, stored files once that has committed."""
    deleted = await images.delete_image(session, user, image_id)
    files.delete_after_commit(background, storage, deleted)
    return RedirectResponse(f"/projects/{deleted.project_id}", status_code=303)
