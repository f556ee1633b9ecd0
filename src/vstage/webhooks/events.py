"""Webhook events, recorded with their deliveries in the transaction that causes them.

An image's ``ready``/``error`` status is set by the queue (:mod:`vstage.queue.transitions`),
which calls :func:`emit_image_events` in that same transaction: the event, one delivery
row per subscribed endpoint and one ``deliver_webhook`` job per delivery commit with the
status change or not at all. The body is rendered once, here, and stored: every attempt
to every endpoint sends the same bytes (each signed anew), so receivers can dedupe by
``Vstage-Event-Id``; on our side the (endpoint, event) pair is unique, so an event is
delivered to an endpoint by one job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.images.schemas import ImageRead
from vstage.models import (
    Image,
    ImageStatus,
    Project,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from vstage.queue.enqueue import enqueue

IMAGE_READY = "image.ready"
IMAGE_FAILED = "image.failed"
JOB_PROGRESS = "job.progress"
PING = "ping"
#: What an endpoint may subscribe to (``ping`` is sent on request, to one endpoint).
SUBSCRIBABLE = (IMAGE_READY, IMAGE_FAILED, JOB_PROGRESS)

DELIVER_WEBHOOK = "deliver_webhook"
#: A ceiling only: the handler gives up after 24 h, long before this many attempts.
DELIVERY_MAX_ATTEMPTS = 100

_STATUS_EVENTS = {ImageStatus.ready: IMAGE_READY, ImageStatus.error: IMAGE_FAILED}


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def render_body(event_id: str, event_type: str, created: datetime, data: dict[str, Any]) -> str:
    """``{"id", "type", "created", "data"}`` as compact JSON (``created``: unix seconds)."""
    return json.dumps(
        {"id": event_id, "type": event_type, "created": int(created.timestamp()), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def record_event(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    endpoint_ids: Sequence[uuid.UUID],
) -> WebhookEvent:
    """Store the event, one delivery per endpoint and one delivery job each."""
    now = utcnow()
    event_id = new_event_id()
    event = WebhookEvent(
        id=event_id,
        user_id=user_id,
        type=event_type,
        body=render_body(event_id, event_type, now, data),
        created_at=now,
    )
    session.add(event)
    await session.flush()  # before its deliveries: no ORM relationship orders the inserts
    deliveries = [
        WebhookDelivery(
            id=uuid.uuid4(),
            endpoint_id=endpoint_id,
            event_id=event_id,
            status="pending",
            attempts=0,
            created_at=now,
        )
        for endpoint_id in dict.fromkeys(endpoint_ids)
    ]
    session.add_all(deliveries)
    await session.flush()
    for delivery in deliveries:
        await enqueue(
            session,
            type=DELIVER_WEBHOOK,
            payload={"delivery_id": str(delivery.id)},
            image_id=None,  # the notification outlives a deleted image
            max_attempts=DELIVERY_MAX_ATTEMPTS,
        )
    return event


async def emit_image_events(
    session: AsyncSession, image_ids: Sequence[uuid.UUID], status: ImageStatus
) -> None:
    """``image.ready`` / ``image.failed`` for these images, to their owners' endpoints.

    One query when nobody listens (the common case): images joined to their owners'
    endpoints. The image is read back in this transaction, so the event carries the
    status (and download path, error) that is being committed.
    """
    event_type = _STATUS_EVENTS.get(status)
    if event_type is None or not image_ids:
        return
    rows = (
        await session.execute(
            select(Image, Project.user_id, WebhookEndpoint.id, WebhookEndpoint.events)
            .join(Project, Project.id == Image.project_id)
            .join(WebhookEndpoint, WebhookEndpoint.user_id == Project.user_id)
            .where(Image.id.in_(list(image_ids)))
            .order_by(Image.id, WebhookEndpoint.created_at)
            .execution_options(populate_existing=True)
        )
    ).all()
    subscribed: dict[uuid.UUID, tuple[Image, uuid.UUID, list[uuid.UUID]]] = {}
    for image, user_id, endpoint_id, events in rows:
        if event_type in events:
            subscribed.setdefault(image.id, (image, user_id, []))[2].append(endpoint_id)
    for image, user_id, endpoint_ids in subscribed.values():
        await record_event(
            session,
            user_id=user_id,
            event_type=event_type,
            data={"image": ImageRead.of(image).model_dump(mode="json")},
            endpoint_ids=endpoint_ids,
        )


async def send_ping(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEvent:
    """A ``ping`` event to this one endpoint (the "send test event" button)."""
    return await record_event(
        session,
        user_id=endpoint.user_id,
        event_type=PING,
        data={"endpoint": {"id": str(endpoint.id), "url": endpoint.url}},
        endpoint_ids=[endpoint.id],
    )
