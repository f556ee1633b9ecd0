"""``/v1/api-keys``: a user's machine credentials.

Creating and revoking keys takes a person's login (session cookie, Auth0 token or dev
token): a leaked key must not be able to mint more keys or revoke its owner's others.
Create is deliberately *not* idempotent-replayable: a stored replay would keep the key
in the database.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from vstage.apikeys import service
from vstage.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from vstage.auth.dependencies import CurrentUser, authenticated_by_api_key
from vstage.dependencies import SessionDep
from vstage.errors import Forbidden
from vstage.models import User
from vstage.pagination import Page, PageDep, page_of

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])


async def _signed_in_person(request: Request, user: CurrentUser) -> User:
    if authenticated_by_api_key(request):
        raise Forbidden("API keys cannot create or revoke API keys; sign in to manage them")
    return user


PersonUser = Annotated[User, Depends(_signed_in_person)]


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, user: PersonUser, session: SessionDep
) -> ApiKeyCreated:
    """A new key, shown in full in this response only (only its hash is stored)."""
    created = await service.create_key(session, user, body.name)
    return ApiKeyCreated(**ApiKeyRead.of(created.row).model_dump(), key=created.key)


@router.get("", response_model=Page[ApiKeyRead])
async def list_api_keys(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[ApiKeyRead]:
    """The caller's keys, newest first, revoked ones included (prefix and last 4 only)."""
    rows = await service.list_keys(session, user, page)
    return page_of(rows, page, ApiKeyRead.of)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: uuid.UUID, user: PersonUser, session: SessionDep) -> Response:
    """Revoke the key: requests made with it are refused (401) from now on."""
    await service.revoke_key(session, user, key_id)
    return Response(status_code=204)
