"""Job lookups for their owners, no HTTP. A job belongs to whoever owns its image's
project; anyone else gets the same 404 as for a job that does not exist."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import NotFound
from vstage.models import Image, Job, Project, User


async def get_job(session: AsyncSession, user: User, job_id: uuid.UUID) -> tuple[Job, Image]:
    """The job and its image, if the image is ``user``'s."""
    row = (
        await session.execute(
            select(Job, Image)
            .join(Image, Image.id == Job.image_id)
            .join(Project, Project.id == Image.project_id)
            .where(Job.id == job_id, Project.user_id == user.id)
        )
    ).first()
    if row is None:
        raise NotFound("job not found")
    return row[0], row[1]
