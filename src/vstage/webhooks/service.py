"""Webhook endpoint logic, no HTTP. Lookups are scoped by owner: someone else's
endpoint is a 404, like a missing one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import Settings
from vstage.errors import Conflict, NotFound
from vstage.models import User, WebhookAttempt, WebhookEndpoint, WebhookEvent, utcnow
from vstage.pagination import PageParams, paginate
from vstage.webhooks import events, signing, urls

MAX_ENDPOINTS = 20


async def create_endpoint(
    session: AsyncSession, user: User, url: str, event_types: Sequence[str], settings: Settings
) -> WebhookEndpoint:
    """Check the URL (shape and, unless allowed, public addresses only), then store it."""
    await urls.validate_for_registration(url, settings)
    count = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.user_id == user.id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        user_id=user.id,
        url=url,
        events=list(event_types),
        secret=signing.new_secret(),
        created_at=utcnow(),
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def list_endpoints(
    session: AsyncSession, user: User, page: PageParams
) -> Sequence[WebhookEndpoint]:
    stmt = paginate(
        select(WebhookEndpoint).where(WebhookEndpoint.user_id == user.id),
        page,
        WebhookEndpoint.created_at,
        WebhookEndpoint.id,
    )
    return (await session.scalars(stmt)).all()


async def get_endpoint(
    session: AsyncSession, user: User, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.user_id == user.id
        )
    )
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


async def delete_endpoint(session: AsyncSession, user: User, endpoint_id: uuid.UUID) -> None:
    """Delete it with its log; its pending delivery jobs find nothing and end quietly."""
    await session.delete(await get_endpoint(session, user, endpoint_id))
    await session.flush()


async def send_test_event(
    session: AsyncSession, user: User, endpoint_id: uuid.UUID
) -> WebhookEvent:
    return await events.send_ping(session, await get_endpoint(session, user, endpoint_id))


async def list_attempts(
    session: AsyncSession, user: User, endpoint_id: uuid.UUID, page: PageParams
) -> list[tuple[WebhookAttempt, str]]:
    """The endpoint's delivery log, newest attempt first."""
    await get_endpoint(session, user, endpoint_id)
    log: Select[Any] = cast(
        "Select[Any]",
        select(WebhookAttempt, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookAttempt.event_id)
        .where(WebhookAttempt.endpoint_id == endpoint_id),
    )
    stmt = paginate(log, page, WebhookAttempt.created_at, WebhookAttempt.id)
    result = await session.execute(stmt)
    return [(row.WebhookAttempt, str(row.type)) for row in result]
