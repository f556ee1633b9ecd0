"""Stage a listing: every photo restaged with one room type, style and seed.

A listing's photos should look furnished by the same designer. Each becomes a new image
row from its original, made by :func:`vstage.images.service.restage` (so charged like
any restage), and all of them get the batch's ``style_seed`` both as their diffusion
seed and recorded in ``images.style_seed`` and the job payload: same style prompt, same
seed, same palette. Everything happens in the caller's one transaction, so the charges
are all or nothing (402 before anything is created).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import Settings
from vstage.errors import InvalidInput, NotFound
from vstage.images import quota
from vstage.images import service as images
from vstage.models import Image, ImageStatus, Job, Project, User
from vstage.projects.service import get_project


@dataclass(frozen=True)
class Batch:
    images: list[Image]
    jobs: list[Job]
    style_seed: int


async def stage_project(
    session: AsyncSession,
    user: User,
    project_id: uuid.UUID,
    *,
    room_type: str,
    style: str,
    image_ids: Sequence[uuid.UUID] | None,
    style_seed: int | None,
    settings: Settings,
) -> Batch:
    """404 for someone else's project or an image not in it; 422 when nothing is left
    to stage; 402 when the whole batch does not fit the quota."""
    project = await get_project(session, user, project_id)
    images.validate_choice(room_type, style)
    if image_ids is not None:
        sources = await _named(session, project, image_ids)
    else:
        sources = await _never_staged(session, project)
    if not sources:
        raise InvalidInput(
            "nothing to stage: every photo of this project has been staged already; "
            "pass image_ids to stage some again"
        )
    # Early and exact "no" for the whole batch; the per-image charges below lock the
    # user and enforce the limit race-free (a 402 there rolls back the whole batch).
    await quota.precheck(session, user, len(sources), settings)
    seed = style_seed if style_seed is not None else images.random_seed()
    created = [
        await images.restage(
            session,
            user,
            source_id,
            room_type=room_type,
            style=style,
            seed=seed,
            settings=settings,
            style_seed=seed,
        )
        for source_id in sources
    ]
    return Batch([image for image, _ in created], [job for _, job in created], seed)


async def _named(
    session: AsyncSession, project: Project, image_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    found = set(
        (
            await session.scalars(
                select(Image.id).where(Image.project_id == project.id, Image.id.in_(image_ids))
            )
        ).all()
    )
    missing = [str(i) for i in image_ids if i not in found]
    if missing:
        raise NotFound(f"image not found in this project: {', '.join(missing[:5])}")
    return list(image_ids)


async def _never_staged(session: AsyncSession, project: Project) -> list[uuid.UUID]:
    """One image per original photo none of whose images has reached ``ready``, oldest
    first (the order they were uploaded). Variations and restages share an original,
    so a photo is staged once per batch however many rows it already has."""
    rows = (
        await session.execute(
            select(Image.id, Image.original_url, Image.status)
            .where(Image.project_id == project.id)
            .order_by(Image.created_at, Image.id)
        )
    ).all()
    staged = {row.original_url for row in rows if row.status == ImageStatus.ready}
    first: dict[str, uuid.UUID] = {}
    for row in rows:
        if row.original_url not in staged:
            first.setdefault(row.original_url, row.id)
    return list(first.values())


@dataclass(frozen=True)
class BatchProgress:
    """How far the project's latest listing batch has come."""

    style_seed: int
    total: int
    ready: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.ready + self.failed == self.total


async def latest_batch_progress(
    session: AsyncSession, user: User, project_id: uuid.UUID
) -> BatchProgress | None:
    """Counts for the newest batch of the project (``None`` if it never had one)."""
    project = await get_project(session, user, project_id)
    seed = await session.scalar(
        select(Image.style_seed)
        .where(Image.project_id == project.id, Image.style_seed.is_not(None))
        .order_by(Image.created_at.desc(), Image.id.desc())
        .limit(1)
    )
    if seed is None:
        return None
    statuses = (
        await session.scalars(
            select(Image.status).where(Image.project_id == project.id, Image.style_seed == seed)
        )
    ).all()
    return BatchProgress(
        style_seed=seed,
        total=len(statuses),
        ready=sum(s == ImageStatus.ready for s in statuses),
        failed=sum(s == ImageStatus.error for s in statuses),
    )
