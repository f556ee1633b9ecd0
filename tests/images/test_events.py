"""``GET /v1/images/{id}/events``: server-sent status events until the image is done."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from sqlalchemy import update

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project, upload
from vstage.db import Database
from vstage.models import Image, ImageStatus, Job


def parse_events(text: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


async def set_status(db: Database, image_id: str, status: ImageStatus, **job: object) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Image).where(Image.id == uuid.UUID(image_id)).values(status=status)
        )
        if job:
            await session.execute(
                update(Job).where(Job.image_id == uuid.UUID(image_id)).values(**job)
            )


async def test_a_finished_image_gets_one_event_and_the_stream_ends(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    project_id = await new_project(client)
    image = (await upload(client, project_id)).json()["images"][0]
    await set_status(pg_db, image["id"], ImageStatus.error)
    response = await client.get(f"/v1/images/{image['id']}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    [(name, data)] = parse_events(response.text)
    assert name == "status"
    assert data["status"] == "error"


async def test_events_follow_status_and_progress_live_until_ready(
    committed_client_for: ClientFactory, pg_committed_db: Database
) -> None:
    client = committed_client_for("alice")
    project_id = await new_project(client)
    image = (await upload(client, project_id)).json()["images"][0]
    stream = asyncio.create_task(client.get(f"/v1/images/{image['id']}/events"))
    await asyncio.sleep(0.3)
    await set_status(
        pg_committed_db, image["id"], ImageStatus.processing, progress_json={"step": 3, "of": 20}
    )
    await asyncio.sleep(0.7)
    await set_status(pg_committed_db, image["id"], ImageStatus.ready)
    response = await asyncio.wait_for(stream, timeout=5)
    events = parse_events(response.text)
    statuses = [data["status"] for _, data in events]
    assert statuses == ["queued", "processing", "ready"]
    assert events[1][1]["progress"] == {"step": 3, "of": 20}


async def test_a_deleted_image_ends_the_stream(
    committed_client_for: ClientFactory,
) -> None:
    client = committed_client_for("alice")
    project_id = await new_project(client)
    image = (await upload(client, project_id)).json()["images"][0]
    stream = asyncio.create_task(client.get(f"/v1/images/{image['id']}/events"))
    await asyncio.sleep(0.3)
    assert (await client.delete(f"/v1/images/{image['id']}")).status_code == 204
    response = await asyncio.wait_for(stream, timeout=5)
    assert [name for name, _ in parse_events(response.text)] == ["status", "deleted"]
