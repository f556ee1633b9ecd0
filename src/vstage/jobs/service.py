"""Job lookups for their owners, no HTTP. A job belongs to whoever owns its image's
project; anyone else gets the same 404 as for a job that does not exist."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import NotFound
from vstage.models import Image, Job, Project, User

# Built once (clients poll jobs): see vstage.images.service._IMAGE_OF_SUBJECT.
_JOB_OF_SUBJECT = (
    select(Job, Image.error.label("image_error"))
    .join(Image, Image.id == Job.image_id)
    .join(Project, Project.id == Image.project_id)
    .join(User, User.id == Project.user_id)
    .where(Job.id == bindparam("job_id"), User.auth0_sub == bindparam("sub"))
)


async def get_job(session: AsyncSession, sub: str, job_id: uuid.UUID) -> tuple[Job, str | None]:
    """The job and its image's user-facing error, if the image belongs to ``sub``'s user."""
    row = (await session.execute(_JOB_OF_SUBJECT, {"job_id": job_id, "sub": sub})).first()
    if row is None:
        raise NotFound("job not found")
    job: Job = row[0]
    image_error: str | None = row[1]
    return job, image_error
