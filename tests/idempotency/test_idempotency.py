"""``Idempotency-Key``: a replay answers the first response and creates nothing; the same
key for another request is 422; while the first is still running, 409."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from tests.fixtures.app import ClientFactory
from tests.images import photos
from tests.images.api import new_project, set_free_limit, upload
from vstage.db import Database
from vstage.models import Image, Project
from vstage.storage import Storage


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def count(db: Database, model: type[Image] | type[Project]) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_replayed_project_create_returns_the_first_project(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    headers = key()
    first = await client.post("/v1/projects", json={"name": "Elm"}, headers=headers)
    again = await client.post("/v1/projects", json={"name": "Elm"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(pg_db, Project) == 1


async def test_json_key_order_and_spacing_do_not_change_the_meaning(
    client: httpx.AsyncClient,
) -> None:
    headers = {**key(), "Content-Type": "application/json"}
    first = await client.post("/v1/projects", content=b'{"name": "Elm"}', headers=headers)
    again = await client.post("/v1/projects", content=b'{ "name":"Elm" }', headers=headers)
    assert again.json() == first.json()


async def test_same_key_for_another_request_is_422(client: httpx.AsyncClient) -> None:
    headers = key()
    assert (await client.post("/v1/projects", json={"name": "A"}, headers=headers)).is_success
    other = await client.post("/v1/projects", json={"name": "B"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_keys_are_scoped_per_user(client_for: ClientFactory, pg_db: Database) -> None:
    headers = key()
    alice = await client_for("alice").post("/v1/projects", json={"name": "A"}, headers=headers)
    bob = await client_for("bob").post("/v1/projects", json={"name": "A"}, headers=headers)
    assert alice.status_code == bob.status_code == 201
    assert alice.json()["id"] != bob.json()["id"]
    assert await count(pg_db, Project) == 2


async def test_upload_replay_with_a_new_multipart_boundary_creates_nothing_twice(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    """httpx picks a fresh boundary per request: the hash is over the meaning."""
    project_id = await new_project(client)
    headers = key()
    first = await upload(client, project_id, headers=headers, variations=2, seed=9)
    again = await upload(
        client, project_id, headers=headers, variations=2, seed=9, filename="renamed.jpg"
    )
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert await count(pg_db, Image) == 2
    storage: Storage = app.state.storage
    assert len(await storage.list_keys()) == 1
    me = (await client.get("/v1/me")).json()
    assert me["usage"]["used"] == 2, "charged once"


async def test_upload_with_the_same_key_and_another_photo_is_422(
    client: httpx.AsyncClient,
) -> None:
    project_id = await new_project(client)
    headers = key()
    assert (await upload(client, project_id, headers=headers)).status_code == 202
    other = await upload(client, project_id, photos.jpeg(color=(0, 0, 0)), headers=headers)
    assert other.status_code == 422


async def test_restage_replay(client: httpx.AsyncClient, pg_db: Database) -> None:
    project_id = await new_project(client)
    image_id = (await upload(client, project_id)).json()["images"][0]["id"]
    headers = key()
    body = {"style": "luxury"}
    first = await client.post(f"/v1/images/{image_id}/restage", json=body, headers=headers)
    again = await client.post(f"/v1/images/{image_id}/restage", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert await count(pg_db, Image) == 2


async def test_a_failed_request_frees_its_key_for_a_retry(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    """Errors are not stored: nothing was created, so the retry may do the work."""
    await set_free_limit(pg_db, 0)
    project_id = await new_project(client)
    headers = key()
    refused = await upload(client, project_id, headers=headers)
    assert refused.status_code == 402
    await set_free_limit(pg_db, 1)
    retried = await upload(client, project_id, headers=headers)
    assert retried.status_code == 202


@pytest.mark.parametrize("bad", ["", "x" * 256, "spaces are not allowed"])
async def test_malformed_keys_are_422(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.post(
        "/v1/projects", json={"name": "A"}, headers={"Idempotency-Key": bad}
    )
    assert response.status_code == 422


async def test_same_key_while_the_first_is_in_flight_is_409(
    committed_client_for: ClientFactory, pg_committed_db: Database
) -> None:
    """The first upload is held inside its work transaction (the test locks the project
    row it needs); its in-flight marker is already committed, so the concurrent retry
    sees it. Once the first finishes, a retry replays it."""
    client = committed_client_for("alice")
    project_id = await new_project(client)
    headers = key()
    async with pg_committed_db.engine.connect() as blocker:
        await blocker.execute(
            text("SELECT id FROM projects WHERE id = :id FOR UPDATE"), {"id": project_id}
        )
        first = asyncio.create_task(upload(client, project_id, headers=headers))
        await asyncio.sleep(0.5)
        assert not first.done(), "the first upload waits for the project row"
        concurrent = await upload(client, project_id, headers=headers)
        assert concurrent.status_code == 409
        assert concurrent.json()["error"]["code"] == "idempotency_key_in_use"
        assert concurrent.headers["retry-after"] == "1"
        await blocker.rollback()
    done = await asyncio.wait_for(first, timeout=10)
    assert done.status_code == 202
    replay = await upload(client, project_id, headers=headers)
    assert (replay.status_code, replay.json()) == (202, done.json())
    assert await count(pg_committed_db, Image) == 1
