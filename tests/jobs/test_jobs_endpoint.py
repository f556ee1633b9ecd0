"""``GET /v1/jobs/{id}``: the owner sees status, attempts, progress, result and a readable
error; never the operator's traceback."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from tests.images.api import new_project, upload
from vstage.db import Database
from vstage.models import Image, ImageStatus, Job, JobStatus


async def test_a_queued_job(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    accepted = (await upload(client, project_id)).json()
    job = (await client.get(f"/v1/jobs/{accepted['jobs'][0]['id']}")).json()
    assert job["status"] == "queued"
    assert job["image_id"] == accepted["images"][0]["id"]
    assert (job["attempts"], job["progress"], job["error"], job["result"]) == (0, None, None, None)


async def test_a_failed_job_shows_the_users_message_not_the_traceback(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    project_id = await new_project(client)
    accepted = (await upload(client, project_id)).json()
    job_id, image_id = accepted["jobs"][0]["id"], accepted["images"][0]["id"]
    async with pg_db.transaction() as session:
        await session.execute(
            update(Job)
            .where(Job.id == uuid.UUID(job_id))
            .values(
                status=JobStatus.failed.value,
                attempts=3,
                error='Traceback (most recent call last):\n  File "/srv/secret.py"',
                result_json={"model": "tiny"},
            )
        )
        await session.execute(
            update(Image)
            .where(Image.id == uuid.UUID(image_id))
            .values(status=ImageStatus.error, error="processing failed after 3 attempts")
        )
    job = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert job["error"] == "processing failed after 3 attempts"
    assert job["result"] == {"model": "tiny"}
    assert "secret" not in str(job)


async def test_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/v1/jobs/{uuid.uuid4()}")).status_code == 404
