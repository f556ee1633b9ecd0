"""Factories for rows tests need; each takes only what the test cares about."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Image, ImageStatus, Job, JobStatus, Project, User

_counter = itertools.count(1)


async def make_user(session: AsyncSession, sub: str | None = None, role: str = "user") -> User:
    user = User(id=uuid.uuid4(), auth0_sub=sub or f"test|user-{next(_counter)}", role=role)
    session.add(user)
    await session.flush()
    return user


async def make_project(session: AsyncSession, user: User, name: str = "12 Elm Street") -> Project:
    project = Project(id=uuid.uuid4(), user_id=user.id, name=name)
    session.add(project)
    await session.flush()
    return project


async def make_image(
    session: AsyncSession,
    project: Project,
    *,
    status: ImageStatus = ImageStatus.queued,
    room_type: str = "living_room",
    style: str = "modern",
    seed: int = 42,
    original_url: str | None = None,
) -> Image:
    image_id = uuid.uuid4()
    image = Image(
        id=image_id,
        project_id=project.id,
        original_url=original_url
        or f"u/{project.user_id}/p/{project.id}/i/{image_id}/original.jpg",
        room_type=room_type,
        style=style,
        seed=seed,
        status=status,
    )
    session.add(image)
    await session.flush()
    return image


async def make_job(
    session: AsyncSession,
    image: Image | None,
    *,
    type_: str = "stage_image",
    payload: dict[str, Any] | None = None,
    status: JobStatus = JobStatus.queued,
    max_attempts: int = 3,
) -> Job:
    job = Job(
        id=uuid.uuid4(),
        image_id=image.id if image else None,
        type=type_,
        payload_json=payload or {},
        status=status.value,
        max_attempts=max_attempts,
    )
    session.add(job)
    await session.flush()
    return job
