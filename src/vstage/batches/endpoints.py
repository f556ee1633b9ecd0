"""``POST /v1/projects/{id}/stage``: stage a whole listing in one request."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from vstage.auth.dependencies import CommittedUser
from vstage.batches import service
from vstage.batches.schemas import BatchAccepted, BatchRequest
from vstage.dependencies import SettingsDep
from vstage.idempotency.dependencies import IdempotentSession
from vstage.idempotency.service import remember
from vstage.images.schemas import ImageRead
from vstage.jobs.schemas import JobRead

router = APIRouter(tags=["images"])


@router.post(
    "/v1/projects/{project_id}/stage",
    status_code=202,
    response_model=BatchAccepted,
    summary="Stage a listing with one shared style",
)
async def stage_project(
    project_id: uuid.UUID,
    body: BatchRequest,
    user: CommittedUser,
    session: IdempotentSession,
    settings: SettingsDep,
) -> BatchAccepted:
    """One new image and job per photo (the named ones, or every never-staged one), all
    sharing ``style_seed`` so the listing looks furnished by one designer.

    Each image is charged like a restage, all or nothing (402 creates nothing). Honours
    ``Idempotency-Key``: a retried request returns the first batch.
    """
    batch = await service.stage_project(
        session,
        user,
        project_id,
        room_type=body.room_type,
        style=body.style,
        image_ids=body.image_ids,
        style_seed=body.style_seed,
        settings=settings,
    )
    result = BatchAccepted(
        images=[ImageRead.of(image) for image in batch.images],
        jobs=[JobRead.of(job) for job in batch.jobs],
        style_seed=batch.style_seed,
    )
    await remember(session, 202, result.model_dump(mode="json"))
    return result
