"""``/v1/admin/jobs``: operators list and retry jobs; nobody else may."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.factories import make_image, make_job, make_project, make_user
from tests.fixtures.app import ClientFactory
from vstage.auth.service import get_or_create_user
from vstage.db import Database
from vstage.models import Image, ImageStatus, JobStatus, Usage, utcnow


async def _admin(pg_db: Database, client_for: ClientFactory, sub: str = "ops") -> httpx.AsyncClient:
    async with pg_db.transaction() as session:
        user = await get_or_create_user(session, sub)
        user.role = "admin"
    return client_for(sub)


async def test_non_admins_get_403(client_for: ClientFactory, pg_db: Database) -> None:
    async with pg_db.transaction() as session:
        user = await make_user(session)
        job = await make_job(session, await make_image(session, await make_project(session, user)))
    mallory = client_for("mallory")
    assert (await mallory.get("/v1/admin/jobs")).status_code == 403
    response = await mallory.post(f"/v1/admin/jobs/{job.id}/retry")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert (await client_for(None).get("/v1/admin/jobs")).status_code == 401


async def test_list_filters_by_status_and_type_and_paginates(
    client_for: ClientFactory, pg_db: Database
) -> None:
    async with pg_db.transaction() as session:
        project = await make_project(session, await make_user(session))
        failed = [
            await make_job(session, await make_image(session, project), status=JobStatus.failed)
            for _ in range(3)
        ]
        await make_job(session, await make_image(session, project), type_="declutter")
        await make_job(session, await make_image(session, project))
    admin = await _admin(pg_db, client_for)

    first = (await admin.get("/v1/admin/jobs", params={"status": "failed", "limit": 2})).json()
    rest = (
        await admin.get(
            "/v1/admin/jobs",
            params={"status": "failed", "limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()
    assert {j["id"] for j in first["items"] + rest["items"]} == {str(j.id) for j in failed}
    assert rest["next_cursor"] is None
    assert all(j["status"] == "failed" for j in first["items"])

    declutter = (await admin.get("/v1/admin/jobs", params={"type": "declutter"})).json()
    assert [j["type"] for j in declutter["items"]] == ["declutter"]
    everything = (await admin.get("/v1/admin/jobs")).json()["items"]
    assert len(everything) == 5
    assert {"worker_id", "error", "attempts", "payload", "heartbeat_at"} <= set(everything[0])
    assert (await admin.get("/v1/admin/jobs", params={"status": "lost"})).status_code == 422


async def test_retry_requeues_a_failed_job_without_charging_again(
    client_for: ClientFactory, pg_db: Database
) -> None:
    async with pg_db.transaction() as session:
        user = await make_user(session)
        image = await make_image(
            session, await make_project(session, user), status=ImageStatus.error
        )
        image.error = "processing failed after 3 attempts"
        job = await make_job(session, image, status=JobStatus.failed)
        job.attempts, job.error, job.worker_id = 3, "RuntimeError: boom", "host:1:abc"
        now = utcnow()
        session.add(
            Usage(
                user_id=user.id,
                image_id=image.id,
                period_start=now - timedelta(days=1),
                period_end=now + timedelta(days=29),
                refunded_at=now,
            )
        )
    admin = await _admin(pg_db, client_for)

    response = await admin.post(f"/v1/admin/jobs/{job.id}/retry")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["attempts"], body["error"], body["worker_id"]) == (
        "queued",
        0,
        None,
        None,
    )
    async with pg_db.transaction() as session:
        refreshed = await session.get(Image, image.id, populate_existing=True)
        assert refreshed is not None
        assert (refreshed.status, refreshed.error) == (ImageStatus.queued, None)
        usage = (await session.scalars(select(Usage))).all()
        assert len(usage) == 1  # no new charge…
        assert usage[0].refunded_at is not None  # …and the refund stands
    again = await admin.post(f"/v1/admin/jobs/{job.id}/retry")
    assert again.status_code == 409


async def test_retry_of_an_unknown_job_is_404(client_for: ClientFactory, pg_db: Database) -> None:
    admin = await _admin(pg_db, client_for)
    response = await admin.post(f"/v1/admin/jobs/{uuid.uuid4()}/retry")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
