"""Images API: upload, list, read, restage, delete, download and follow staged photos.

Downloads: local storage is streamed by the app with the right ``Content-Type`` and
``Content-Disposition``; S3 answers 302 to a short-lived presigned URL, so the bytes
never pass through the API.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from vstage.auth.dependencies import CommittedUser, CurrentSubject, CurrentUser
from vstage.dependencies import DatabaseDep, SessionDep, SettingsDep, StorageDep
from vstage.errors import Conflict, NotFound
from vstage.idempotency import service as idempotency
from vstage.idempotency.dependencies import IdempotencyKeyHeader, IdempotentSession
from vstage.images import events, files, service, upload
from vstage.images.multipart import read_multipart
from vstage.images.schemas import MAX_SEED, ImageRead, RestageRequest, StagingAccepted
from vstage.jobs.schemas import JobRead
from vstage.models import Image, ImageStatus
from vstage.pagination import Page, PageDep, page_of
from vstage.staging.catalog import ROOM_TYPES, STYLES
from vstage.storage import ObjectNotFound, Storage, content_disposition

router = APIRouter(tags=["images"])

_BINARY = {"type": "string", "format": "binary"}
UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "room_type", "style"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            **_BINARY,
                            "description": "The photo: JPEG, PNG, WebP or HEIC/HEIF.",
                        },
                        "room_type": {"type": "string", "enum": [r.code for r in ROOM_TYPES]},
                        "style": {"type": "string", "enum": [s.code for s in STYLES]},
                        "seed": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_SEED,
                            "description": "Random (0 to 2^32-1) when omitted; variations derive "
                            "theirs from it.",
                        },
                        "variations": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 4,
                            "default": 1,
                        },
                        "mask": {
                            **_BINARY,
                            "description": "Optional PNG the size of the upright photo; "
                            "white = may be furnished.",
                        },
                    },
                },
                "encoding": {
                    "file": {"contentType": "image/jpeg, image/png, image/webp, image/heic"},
                    "mask": {"contentType": "image/png"},
                },
            }
        },
    }
}
#: One server-sent event (OpenAPI < 3.2: the schema describes each event).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["status", "deleted"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"type": "object", "required": ["id"]},
            "description": "`status`: an ImageEvent; `deleted`: `{id}`.",
        },
        "retry": {"type": "integer"},
    },
}
_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file (local storage).",
        "content": {
            "image/jpeg": {"schema": _BINARY},
            "image/png": {"schema": _BINARY},
        },
    },
    302: {"description": "Redirect to a short-lived presigned URL (S3 storage)."},
}


@router.post(
    "/v1/projects/{project_id}/images",
    status_code=202,
    response_model=StagingAccepted,
    openapi_extra=UPLOAD_OPENAPI,
    summary="Upload a photo to stage",
)
async def upload_images(
    project_id: uuid.UUID,
    request: Request,
    user: CommittedUser,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> StagingAccepted:
    """One image row and one staging job per variation, charged against the quota.

    413 over the size cap, 415 for anything but JPEG/PNG/WebP/HEIC (whatever the
    name or declared type), 422 for broken files and images over the pixel cap, 402
    over quota, 429 over the upload rate.
    """
    await upload.admit(db, settings, user, project_id)
    form = await read_multipart(
        request, file_fields=upload.FILE_FIELDS, max_file_bytes=settings.max_upload_bytes
    )
    params = upload.parse_params(form)
    request_hash = idempotency.fingerprint(
        request.method, request.url.path, request.url.query, form.meaning()
    )
    return await upload.accept(
        db,
        storage,
        settings,
        user,
        project_id,
        form,
        params,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


@router.get("/v1/projects/{project_id}/images", response_model=Page[ImageRead])
async def list_images(
    project_id: uuid.UUID, user: CurrentUser, session: SessionDep, page: PageDep
) -> Page[ImageRead]:
    rows = await service.list_images(session, user, project_id, page)
    return page_of(rows, page, ImageRead.of)


@router.get("/v1/images/{image_id}", response_model=ImageRead)
async def get_image(image_id: uuid.UUID, sub: CurrentSubject, db: DatabaseDep) -> ImageRead:
    """Clients poll this, so it is lean: one prepared query scoped by the caller's
    subject, in a plain session (a single read needs no transaction to commit)."""
    async with db.sessionmaker() as session:
        row = await service.get_image_of_subject(session, sub, image_id)
    return ImageRead.of(row)


@router.delete("/v1/images/{image_id}", status_code=204)
async def delete_image(
    image_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """Delete the image and its job; its stored files go once the deletion committed
    (files still used by variations or restages of the same photo stay)."""
    deleted = await service.delete_image(session, user, image_id)
    files.delete_after_commit(background, storage, deleted)
    return Response(status_code=204)


@router.post("/v1/images/{image_id}/restage", status_code=202, response_model=StagingAccepted)
async def restage_image(
    image_id: uuid.UUID,
    user: CommittedUser,
    session: IdempotentSession,
    settings: SettingsDep,
    body: RestageRequest | None = None,
) -> StagingAccepted:
    """Stage the same photo again with another room type, style or seed: a new image
    row sharing the original, charged like an upload."""
    choice = body or RestageRequest()
    image, job = await service.restage(
        session,
        user,
        image_id,
        room_type=choice.room_type,
        style=choice.style,
        seed=choice.seed,
        settings=settings,
    )
    result = StagingAccepted(images=[ImageRead.of(image)], jobs=[JobRead.of(job)])
    await idempotency.remember(session, 202, result.model_dump(mode="json"))
    return result


@router.get(
    "/v1/images/{image_id}/original",
    response_class=Response,
    responses=_FILE_RESPONSES,
    summary="Download the uploaded photo (cleaned: upright, no metadata)",
)
async def download_original(
    image_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    image = await service.get_image(session, user, image_id)
    return await _download(storage, settings.s3_presign_seconds, image, image.original_url, "")


@router.get(
    "/v1/images/{image_id}/staged",
    response_class=Response,
    responses=_FILE_RESPONSES,
    summary="Download the staged result",
)
async def download_staged(
    image_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    image = await service.get_image(session, user, image_id)
    if image.staged_url is None:
        if image.status == ImageStatus.error:
            raise Conflict(f"staging this image failed: {image.error or 'unknown error'}")
        raise Conflict(
            f"the image is not staged yet (status: {image.status.value}); "
            f"follow /v1/images/{image.id}/events to know when it is ready"
        )
    return await _download(storage, settings.s3_presign_seconds, image, image.staged_url, "-staged")


@router.get(
    "/v1/images/{image_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `status` (JSON ImageEvent) on every change "
            "until `ready` or `error`, then the stream ends.",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        }
    },
)
async def image_events(
    image_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    db: DatabaseDep,
) -> StreamingResponse:
    """The ownership check uses the request's transaction, which ends when this
    function returns, before the first event; each poll then has its own."""
    await service.get_image(session, user, image_id)
    return StreamingResponse(
        events.image_events(db, image_id, is_disconnected=request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


async def _download(
    storage: Storage, presign_seconds: int, image: Image, key: str, suffix: str
) -> Response:
    ext = key.rsplit(".", 1)[-1].lower()
    content_type = _CONTENT_TYPES.get(ext, "application/octet-stream")
    filename = f"{image.room_type}-{image.style}-{image.id.hex[:8]}{suffix}.{ext}"
    url = await storage.presigned_url(
        key, filename=filename, content_type=content_type, expires_s=presign_seconds
    )
    if url is not None:
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    try:
        size = await storage.size(key)
    except ObjectNotFound:
        raise NotFound("the stored file is missing") from None
    return StreamingResponse(
        storage.stream(key),
        media_type=content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": content_disposition(filename),
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )
