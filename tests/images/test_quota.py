"""Quotas: each staged image costs one unit of the plan's monthly limit, checked and charged
race-free; over the limit is 402 with the way to upgrade; a job that finally fails gives
its unit back."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project, upload
from vstage.db import Database
from vstage.queue import HandlerRegistry, JobContext, JobResult, PermanentJobError, Worker
from vstage.storage import Storage

FREE_LIMIT = 3  # the seeded free plan


async def test_over_quota_is_402_with_limit_used_and_upgrade_url(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    project_id = await new_project(client)
    assert (await upload(client, project_id, variations=FREE_LIMIT)).status_code == 202
    response = await upload(client, project_id)
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert (error["limit"], error["used"]) == (FREE_LIMIT, FREE_LIMIT)
    assert error["upgrade_url"] == "http://127.0.0.1:8000/account"
    storage: Storage = app.state.storage
    assert len(await storage.list_keys()) == 1, "the refused photo was not kept"


async def test_variations_that_do_not_all_fit_are_refused_whole(
    client: httpx.AsyncClient,
) -> None:
    project_id = await new_project(client)
    assert (await upload(client, project_id, variations=2)).status_code == 202
    assert (await upload(client, project_id, variations=2)).status_code == 402
    assert (await client.get("/v1/me")).json()["usage"]["used"] == 2


async def test_restage_is_charged_too(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    image_id = (await upload(client, project_id, variations=FREE_LIMIT)).json()["images"][0]["id"]
    response = await client.post(f"/v1/images/{image_id}/restage", json={})
    assert response.status_code == 402


class _Payload(BaseModel):
    model_config = {"extra": "allow"}


async def _always_fails(ctx: JobContext, payload: _Payload) -> JobResult:
    raise PermanentJobError("the GPU caught fire", user_message="staging failed")


async def test_twenty_concurrent_uploads_at_limit_minus_one_accept_exactly_one(
    committed_client_for: ClientFactory, committed_app: FastAPI, pg_committed_db: Database
) -> None:
    client = committed_client_for("alice")
    project_id = await new_project(client)
    assert (await upload(client, project_id, variations=FREE_LIMIT - 1)).status_code == 202

    responses = await asyncio.gather(*(upload(client, project_id) for _ in range(20)))

    statuses = [r.status_code for r in responses]
    assert statuses.count(202) == 1, statuses
    assert statuses.count(402) == 19, statuses
    for refused in (r for r in responses if r.status_code == 402):
        assert refused.json()["error"]["limit"] == FREE_LIMIT
    me = (await client.get("/v1/me")).json()
    assert me["usage"]["used"] == FREE_LIMIT
    storage: Storage = committed_app.state.storage
    assert len(await storage.list_keys()) == 2, "the 19 refused photos left no orphans"

    # The queue's final-failure path refunds: every job fails for good here.
    registry = HandlerRegistry()
    registry.register("stage_image", _Payload, _always_fails)
    worker = Worker(
        pg_committed_db,
        storage,
        pg_committed_db.settings,
        registry=registry,
        listen=False,
        rescue=False,
        concurrency=4,
    )
    assert await worker.run_once() == FREE_LIMIT
    me = (await client.get("/v1/me")).json()
    assert me["usage"]["used"] == 0, "each failed image gave its unit back"
    image_id = next(r for r in responses if r.status_code == 202).json()["images"][0]["id"]
    failed = (await client.get(f"/v1/images/{image_id}")).json()
    assert (failed["status"], failed["error"]) == ("error", "staging failed")
    assert (await upload(client, project_id)).status_code == 202
