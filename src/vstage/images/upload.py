"""The upload flow: admit, read, clean, store, then charge and enqueue in one transaction.

Why several short transactions instead of the request's one: the body of an upload
can take minutes to arrive and seconds to decode, and holding a pooled connection
(on SQLite: the write lock) that long would let a few slow clients starve the API. So:

1. :func:`admit` — project ownership (404) and the upload rate limit (429), committed
   at once so every replica counts this attempt; nothing of the body is read before.
2. The endpoint streams the multipart body under the size caps (413/415/422).
3. :func:`accept` — idempotency claim; early quota check (402); decode and clean the
   photo off the event loop (415/422); store it under random keys; then one
   transaction charges the quota, creates the image rows and enqueues their jobs (and
   stores the idempotent response). If anything after the store fails, the stored
   objects are deleted again, so a failed upload leaves no orphan behind.
"""

from __future__ import annotations

import logging
import uuid

import anyio
from pydantic import ValidationError
from sqlalchemy import func, select

from vstage.config import Settings
from vstage.db import Database
from vstage.errors import InvalidInput
from vstage.idempotency import service as idempotency
from vstage.idempotency.dependencies import guarded
from vstage.images import files, quota, service
from vstage.images.multipart import UploadForm
from vstage.images.originals import CleanImage, clean_in_thread, clean_mask_in_thread
from vstage.images.schemas import ImageRead, StagingAccepted, UploadParams
from vstage.jobs.schemas import JobRead
from vstage.models import Image, User
from vstage.projects.service import get_project
from vstage.ratelimit import service as ratelimit
from vstage.storage import Storage, storage_key

log = logging.getLogger(__name__)

FILE_FIELDS = frozenset({"file", "mask"})


async def admit(db: Database, settings: Settings, user: User, project_id: uuid.UUID) -> None:
    """404 unless the project is the user's; 429 over the upload rate (counted now)."""
    async with db.transaction() as session:
        await get_project(session, user, project_id)
        await ratelimit.hit(
            session, user.id, ratelimit.UPLOADS, limit=settings.upload_rate_per_minute
        )


def parse_params(form: UploadForm) -> UploadParams:
    """The text fields, validated (422 naming the field), and the photo's presence."""
    if "file" not in form.files:
        raise InvalidInput("file: a photo is required (multipart field 'file')")
    try:
        params = UploadParams.model_validate(form.fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "form"
        raise InvalidInput(f"{where}: {first['msg']}") from None
    service.validate_choice(params.room_type, params.style)
    return params


async def accept(
    db: Database,
    storage: Storage,
    settings: Settings,
    user: User,
    project_id: uuid.UUID,
    form: UploadForm,
    params: UploadParams,
    *,
    idempotency_key: str | None,
    request_hash: str,
) -> StagingAccepted:
    """Steps 3 of the module doc; returns the 202 body."""
    async with guarded(db, user.id, idempotency_key, request_hash) as claim:
        async with db.transaction() as session:
            await quota.precheck(session, user, params.variations, settings)
        photo = form.files["file"]
        original = await clean_in_thread(photo.data, settings.max_pixels)
        mask: CleanImage | None = None
        if "mask" in form.files:
            mask = await clean_mask_in_thread(
                form.files["mask"].data, original.width, original.height, settings.max_pixels
            )
        image_ids = [uuid.uuid4() for _ in range(params.variations)]
        original_key = storage_key(user.id, project_id, image_ids[0], original.object_name)
        mask_key = (
            storage_key(user.id, project_id, image_ids[0], mask.object_name) if mask else None
        )
        stored: list[str] = []
        reached_commit = False
        try:
            await storage.put(original_key, original.data, original.content_type)
            stored.append(original_key)
            if mask is not None and mask_key is not None:
                await storage.put(mask_key, mask.data, mask.content_type)
                stored.append(mask_key)
            async with db.transaction() as session:
                idempotency.attach(session, claim)
                project = await get_project(session, user, project_id, for_update=True)
                seed = params.seed if params.seed is not None else service.random_seed()
                created = await service.create_staged_images(
                    session,
                    user,
                    project,
                    service.Source(
                        original_key=original_key,
                        user_mask_key=mask_key,
                        width=original.width,
                        height=original.height,
                        original_format=original.source_format,
                    ),
                    room_type=params.room_type,
                    style=params.style,
                    seeds=service.variation_seeds(seed, params.variations),
                    settings=settings,
                    image_ids=image_ids,
                )
                body = StagingAccepted(
                    images=[ImageRead.of(image) for image, _ in created],
                    jobs=[JobRead.of(job) for _, job in created],
                )
                await idempotency.remember(session, 202, body.model_dump(mode="json"))
                reached_commit = True
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _forget_stored(db, storage, stored, image_ids, ambiguous=reached_commit)
            raise
        return body


async def _forget_stored(
    db: Database,
    storage: Storage,
    keys: list[str],
    image_ids: list[uuid.UUID],
    *,
    ambiguous: bool,
) -> None:
    """Delete the objects of an upload whose transaction failed.

    If the failure came from COMMIT itself the rows may exist after all (the
    connection dropped after the server committed): look before deleting, and keep
    the objects if we cannot tell — an orphan is better than a row without its photo.
    """
    if not keys:
        return
    if ambiguous:
        try:
            async with db.transaction() as session:
                found = await session.scalar(
                    select(func.count()).select_from(Image).where(Image.id.in_(image_ids))
                )
        except Exception:
            log.exception("upload commit failed ambiguously; keeping objects %s", keys)
            return
        if found:
            return
    await files.delete_objects(storage, keys)
