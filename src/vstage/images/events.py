"""Server-sent status events for one image: a line per change until it is done.

Each poll is its own short transaction (every ``poll_seconds``), so an open event
stream holds no database connection between polls, and no lock ever. The stream
ends after the ``ready`` or ``error`` event, when the image is deleted, when the
client goes away, or after ``max_seconds`` (clients reconnect; EventSource does so by
itself). A comment line every ``keepalive_seconds`` keeps proxies from closing an idle
stream.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import select

from vstage.db import Database
from vstage.images.schemas import ImageEvent
from vstage.models import Image, ImageStatus, Job

FINAL = frozenset({ImageStatus.ready, ImageStatus.error})


async def snapshot(db: Database, image_id: uuid.UUID) -> ImageEvent | None:
    """The image's status and its latest job's progress, or None once it is gone."""
    async with db.transaction() as session:
        image = (
            await session.execute(
                select(Image.id, Image.status, Image.error, Image.staged_url).where(
                    Image.id == image_id
                )
            )
        ).first()
        if image is None:
            return None
        progress = await session.scalar(
            select(Job.progress_json)
            .where(Job.image_id == image_id)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
        )
    return ImageEvent(
        id=image.id,
        status=image.status,
        progress=progress,
        error=image.error,
        staged_url=f"/v1/images/{image.id}/staged" if image.staged_url else None,
    )


def format_event(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def image_events(
    db: Database,
    image_id: uuid.UUID,
    *,
    is_disconnected: Callable[[], Awaitable[bool]],
    poll_seconds: float = 0.5,
    keepalive_seconds: float = 15.0,
    max_seconds: float = 3600.0,
) -> AsyncIterator[str]:
    """Yield ``status`` events (JSON :class:`ImageEvent`) as the image changes."""
    started = last_sent = time.monotonic()
    previous: ImageEvent | None = None
    yield "retry: 2000\n\n"
    while True:
        current = await snapshot(db, image_id)
        if current is None:
            yield format_event("deleted", f'{{"id": "{image_id}"}}')
            return
        if current != previous:
            yield format_event("status", current.model_dump_json())
            previous, last_sent = current, time.monotonic()
        if current.status in FINAL:
            return
        now = time.monotonic()
        if now - started > max_seconds or await is_disconnected():
            return
        if now - last_sent >= keepalive_seconds:
            yield ": keepalive\n\n"
            last_sent = now
        await asyncio.sleep(poll_seconds)
