"""Project logic, no HTTP. Every lookup is scoped by owner: another user's project
is indistinguishable from a missing one (404, never 403)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import NotFound
from vstage.models import Project, User
from vstage.pagination import PageParams, paginate


async def create_project(session: AsyncSession, user: User, name: str) -> Project:
    project = Project(id=uuid.uuid4(), user_id=user.id, name=name)
    session.add(project)
    await session.flush()
    return project


async def list_projects(session: AsyncSession, user: User, page: PageParams) -> Sequence[Project]:
    stmt = paginate(
        select(Project).where(Project.user_id == user.id), page, Project.created_at, Project.id
    )
    return (await session.scalars(stmt)).all()


async def get_project(
    session: AsyncSession, user: User, project_id: uuid.UUID, *, for_update: bool = False
) -> Project:
    stmt = select(Project).where(Project.id == project_id, Project.user_id == user.id)
    if for_update:
        stmt = stmt.with_for_update()
    project = await session.scalar(stmt)
    if project is None:
        raise NotFound("project not found")
    return project


async def rename_project(
    session: AsyncSession, user: User, project_id: uuid.UUID, name: str
) -> Project:
    project = await get_project(session, user, project_id)
    project.name = name
    await session.flush()
    return project


async def delete_project(session: AsyncSession, user: User, project_id: uuid.UUID) -> Project:
    """Delete the row (images and jobs cascade). Stored files are removed after commit
    by the caller, from the keys it collected, so a failed commit deletes nothing."""
    project = await get_project(session, user, project_id)
    await session.delete(project)
    await session.flush()
    return project
