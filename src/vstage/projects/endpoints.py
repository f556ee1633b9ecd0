from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Response

from vstage.auth.dependencies import CommittedUser, CurrentUser
from vstage.dependencies import SessionDep, StorageDep
from vstage.idempotency.dependencies import IdempotentSession
from vstage.idempotency.service import remember
from vstage.images import files
from vstage.images.service import project_keys
from vstage.pagination import Page, PageDep, page_of
from vstage.projects import service
from vstage.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectRead)
async def create_project(
    body: ProjectCreate, user: CommittedUser, session: IdempotentSession
) -> ProjectRead:
    """Honours ``Idempotency-Key``: a retried create returns the first project."""
    project = await service.create_project(session, user, body.name)
    result = ProjectRead.model_validate(project)
    await remember(session, 201, result.model_dump(mode="json"))
    return result


@router.get("", response_model=Page[ProjectRead])
async def list_projects(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[ProjectRead]:
    rows = await service.list_projects(session, user, page)
    return page_of(rows, page, ProjectRead.model_validate)


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(project_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ProjectRead:
    return ProjectRead.model_validate(await service.get_project(session, user, project_id))


@router.patch("/{project_id}", response_model=ProjectRead)
async def rename_project(
    project_id: uuid.UUID, body: ProjectUpdate, user: CurrentUser, session: SessionDep
) -> ProjectRead:
    project = await service.rename_project(session, user, project_id, body.name)
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}", status_code=204)
async def delete_project(
    project_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """Delete the project, its images and jobs; its stored files go after the commit
    (a failed commit deletes no file; a failed file delete is retried, then logged)."""
    project = await service.get_project(session, user, project_id, for_update=True)
    keys = await project_keys(session, project.id)
    await service.delete_project(session, user, project_id)
    background.add_task(
        files.delete_project_objects, storage, user_id=user.id, project_id=project_id, keys=keys
    )
    return Response(status_code=204)
