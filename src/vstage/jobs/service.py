"""Job lookups for their owners, no HTTP. A job belongs to whoever owns its image's
project; anyone else gets the same 404 as for a job that does not exist."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import NotFound
from vstage.models import Image, Job, Project, User


async def get_job(session: AsyncSession, sub: str, job_id: uuid.UUID) -> tuple[Job, Image]:
    """The job and its image, if the image belongs to the user with subject ``sub``.

    One query (clients poll this), joining ``users`` on the subject.
    """
    row = (
        await session.execute(
            select(Job, Image)
            .join(Image, Image.id == Job.image_id)
            .join(Project, Project.id == Image.project_id)
            .join(User, User.id == Project.user_id)
            .where(Job.id == job_id, User.auth0_sub == sub)
        )
    ).first()
    if row is None:
        raise NotFound("job not found")
    return row[0], row[1]
