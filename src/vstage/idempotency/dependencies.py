"""The ``Idempotency-Key`` header for FastAPI routes.

A JSON route opts in by taking ``session: IdempotentSession`` (instead of
``SessionDep``) and ``user: CommittedUser`` (instead of ``CurrentUser``), and by
passing its response through :func:`vstage.idempotency.service.remember` before it
returns. Routes with file uploads use :func:`guarded` directly, because their request
hash needs the parsed form.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.auth.dependencies import CommittedUser
from vstage.db import Database
from vstage.dependencies import DatabaseDep
from vstage.idempotency import service
from vstage.idempotency.service import Claim

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=service.MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Makes the request safe to retry: a replay with the same key and request "
            "returns the first response (nothing is created twice); the same key with a "
            "different request is 422; while the first is still running, 409. Keys are "
            "per user and kept 24 hours."
        ),
    ),
]


@asynccontextmanager
async def guarded(
    db: Database, user_id: uuid.UUID, key: str | None, request_hash: str
) -> AsyncIterator[Claim | None]:
    """Hold ``key`` for the duration of the block; release it if the block fails."""
    if key is None:
        yield None
        return
    claim = await service.claim(db, user_id, service.validate_key(key), request_hash)
    try:
        yield claim
    except BaseException:
        with anyio.CancelScope(shield=True):
            await service.release(db, claim)
        raise


async def idempotent_session(
    request: Request,
    user: CommittedUser,
    db: DatabaseDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[AsyncSession]:
    """The request's transaction, guarded by its ``Idempotency-Key`` when it has one.

    The claim commits in its own transaction *before* this one opens; this one is
    rolled back before the claim is released, so a retry never sees half the work.
    """
    request_hash = ""
    if idempotency_key is not None:
        meaning = service.json_meaning(await request.body())
        request_hash = service.fingerprint(
            request.method, request.url.path, request.url.query, meaning
        )
    async with (
        guarded(db, user.id, idempotency_key, request_hash) as claim,
        db.transaction() as session,
    ):
        service.attach(session, claim)
        yield session


IdempotentSession = Annotated[AsyncSession, Depends(idempotent_session, scope="function")]
