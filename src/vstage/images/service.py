"""Image logic, no HTTP. Every lookup is scoped by owner through the project, so another
user's image or job is indistinguishable from a missing one (404, never 403)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import Settings
from vstage.errors import NotFound
from vstage.images import files, quota
from vstage.images.schemas import RANDOM_SEEDS
from vstage.models import Image, ImageStatus, Job, Project, User, utcnow
from vstage.pagination import PageParams, paginate
from vstage.projects.service import get_project
from vstage.queue import enqueue
from vstage.staging import catalog, engine

STAGE_JOB = "stage_image"
Lock = Literal["share", "update"] | None


def random_seed() -> int:
    return secrets.randbelow(RANDOM_SEEDS)


def variation_seeds(seed: int, count: int) -> list[int]:
    """The seeds of ``count`` variations, derived the engine's way (the first is ``seed``),
    so ``vstage stage --seed S --variations K`` and the API agree."""
    return engine.variation_seeds(seed, count)


def validate_choice(room_type: str, style: str) -> None:
    """422 naming the valid codes unless both are in the catalog."""
    catalog.room_type(room_type)
    catalog.style(style)


def _owned(user: User) -> Select[Image]:
    return (
        select(Image)
        .join(Project, Project.id == Image.project_id)
        .where(Project.user_id == user.id)
    )


async def get_image(
    session: AsyncSession, user: User, image_id: uuid.UUID, *, lock: Lock = None
) -> Image:
    stmt = _owned(user).where(Image.id == image_id)
    if lock is not None:
        stmt = stmt.with_for_update(read=lock == "share", of=Image)
    image = await session.scalar(stmt)
    if image is None:
        raise NotFound("image not found")
    return image


# Built once: constructing and cache-keying a three-table statement per request costs
# more CPU than running it (the polled hot path, ``GET /v1/images/{id}``).
_IMAGE_OF_SUBJECT = (
    select(*Image.__table__.c)
    .join(Project, Project.id == Image.project_id)
    .join(User, User.id == Project.user_id)
    .where(Image.id == bindparam("image_id"), User.auth0_sub == bindparam("sub"))
)


async def get_image_of_subject(session: AsyncSession, sub: str, image_id: uuid.UUID) -> Row[Any]:
    """:func:`get_image` for a caller known only by subject: one query joining ``users``,
    returning a plain row (no ORM identity map: nothing is written)."""
    row = (await session.execute(_IMAGE_OF_SUBJECT, {"image_id": image_id, "sub": sub})).first()
    if row is None:
        raise NotFound("image not found")
    return row


async def list_images(
    session: AsyncSession, user: User, project_id: uuid.UUID, page: PageParams
) -> Sequence[Image]:
    await get_project(session, user, project_id)
    stmt = paginate(
        select(Image).where(Image.project_id == project_id), page, Image.created_at, Image.id
    )
    return (await session.scalars(stmt)).all()


async def latest_job(session: AsyncSession, image_id: uuid.UUID) -> Job | None:
    job: Job | None = await session.scalar(
        select(Job)
        .where(Job.image_id == image_id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(1)
    )
    return job


@dataclass(frozen=True)
class Source:
    """What a new image is made from: a stored original (shared between rows)."""

    original_key: str
    user_mask_key: str | None
    width: int | None
    height: int | None
    original_format: str | None


async def create_staged_images(
    session: AsyncSession,
    user: User,
    project: Project,
    source: Source,
    *,
    room_type: str,
    style: str,
    seeds: Sequence[int],
    settings: Settings,
    image_ids: Sequence[uuid.UUID] | None = None,
    source_image_id: uuid.UUID | None = None,
    style_seed: int | None = None,
) -> list[tuple[Image, Job]]:
    """One image row and one ``stage_image`` job per seed, charged, in ``session``.

    Raises 402 (nothing created) when the images do not fit the user's quota.
    ``style_seed``: the listing batch these images belong to (recorded on the rows).
    """
    validate_choice(room_type, style)
    ids = list(image_ids) if image_ids is not None else [uuid.uuid4() for _ in seeds]
    now = utcnow()
    images = [
        Image(
            id=image_id,
            project_id=project.id,
            original_url=source.original_key,
            user_mask_url=source.user_mask_key,
            width=source.width,
            height=source.height,
            original_format=source.original_format,
            room_type=room_type,
            style=style,
            seed=seed,
            status=ImageStatus.queued,
            source_image_id=source_image_id,
            style_seed=style_seed,
            created_at=now,
            updated_at=now,
        )
        for image_id, seed in zip(ids, seeds, strict=True)
    ]
    session.add_all(images)
    await session.flush()
    await quota.charge(session, user, ids, settings)
    created: list[tuple[Image, Job]] = []
    for image in images:
        job = await enqueue(
            session,
            type=STAGE_JOB,
            payload=stage_payload(image),
            image_id=image.id,
            max_attempts=settings.job_max_attempts,
        )
        created.append((image, job))
    return created


def stage_payload(image: Image) -> dict[str, Any]:
    """Everything the job needs to redo the work, recorded on the job row."""
    payload: dict[str, Any] = {
        "image_id": str(image.id),
        "original_key": image.original_url,
        "user_mask_key": image.user_mask_url,
        "room_type": image.room_type,
        "style": image.style,
        "seed": image.seed,
    }
    if image.style_seed is not None:
        payload["style_seed"] = image.style_seed
    return payload


async def restage(
    session: AsyncSession,
    user: User,
    image_id: uuid.UUID,
    *,
    room_type: str | None,
    style: str | None,
    seed: int | None,
    settings: Settings,
    style_seed: int | None = None,
) -> tuple[Image, Job]:
    """A new image row from the same original with new choices; charged."""
    # FOR SHARE: a concurrent delete of the source waits for us (and then sees our row
    # still using the original), or goes first (and we 404).
    source = await get_image(session, user, image_id, lock="share")
    project = await get_project(session, user, source.project_id)
    [(image, job)] = await create_staged_images(
        session,
        user,
        project,
        Source(
            original_key=source.original_url,
            user_mask_key=source.user_mask_url,
            width=source.width,
            height=source.height,
            original_format=source.original_format,
        ),
        room_type=room_type or source.room_type,
        style=style or source.style,
        seeds=[seed if seed is not None else random_seed()],
        settings=settings,
        source_image_id=source.id,
        style_seed=style_seed,
    )
    return image, job


@dataclass(frozen=True)
class DeletedImage:
    user_id: uuid.UUID
    project_id: uuid.UUID
    image_id: uuid.UUID
    keys: set[str]
    keep: set[str]


async def delete_image(session: AsyncSession, user: User, image_id: uuid.UUID) -> DeletedImage:
    """Delete the row (its jobs cascade); say which stored objects may go after commit."""
    image = await get_image(session, user, image_id, lock="update")
    keys = files.keys_of(image)
    keep = await files.still_referenced(session, keys, excluding=[image.id])
    deleted = DeletedImage(user.id, image.project_id, image.id, keys, keep)
    await session.delete(image)
    await session.flush()
    return deleted


async def project_keys(session: AsyncSession, project_id: uuid.UUID) -> set[str]:
    """Every key the project's image rows name (collected before deleting them)."""
    rows = (
        await session.execute(
            select(Image.original_url, Image.staged_url, Image.mask_url, Image.user_mask_url).where(
                Image.project_id == project_id
            )
        )
    ).all()
    return {key for row in rows for key in row if key}
