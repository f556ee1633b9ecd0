"""Deliveries: signed, retried on failure, delivered once, logged per attempt."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project
from tests.webhooks import signatures
from tests.webhooks.conftest import RunWorker, drain, staged_image_job
from tests.webhooks.receiver import running_receiver
from vstage.db import Database
from vstage.models import Job, WebhookDelivery, WebhookEvent, utcnow
from vstage.queue import enqueue
from vstage.webhooks import delivery
from vstage.webhooks.events import DELIVER_WEBHOOK
from vstage.webhooks.handler import RETRY_WINDOW, retry_delay


async def register(
    client: httpx.AsyncClient, url: str, events: tuple[str, ...] = ("image.ready", "image.failed")
) -> dict[str, Any]:
    response = await client.post("/v1/webhook-endpoints", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def attempts_log(client: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    """The delivery log, oldest attempt first."""
    response = await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


async def test_a_ready_image_is_announced_signed_retried_after_a_500_and_delivered_once(
    committed_client_for: ClientFactory, pg_committed_db: Database, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([500, 200]) as receiver:
        endpoint = await register(alice, receiver.url)
        image_id = await staged_image_job(pg_committed_db, await new_project(alice))

        await run_worker()

    assert [r.answered for r in receiver.requests] == [500, 200]
    for request in receiver.requests:
        assert request.path == "/hooks/vstage"
        assert request.headers["content-type"] == "application/json"
        assert signatures.verify(
            endpoint["secret"], request.headers["vstage-signature"], request.body
        )
        assert not signatures.verify(
            "whsec_wrong", request.headers["vstage-signature"], request.body
        )
    first, second = receiver.requests
    assert first.body == second.body
    event = json.loads(second.body)
    assert set(event) == {"id", "type", "created", "data"}
    assert event["type"] == "image.ready"
    assert abs(event["created"] - time.time()) < 60
    assert event["data"]["image"]["id"] == str(image_id)
    assert event["data"]["image"]["status"] == "ready"
    assert event["data"]["image"]["staged_url"] == f"/v1/images/{image_id}/staged"
    assert {r.headers["vstage-event-id"] for r in receiver.requests} == {event["id"]}

    log = await attempts_log(alice, endpoint["id"])
    assert [(a["attempt"], a["status_code"]) for a in log] == [(1, 500), (2, 200)]
    assert {a["event_id"] for a in log} == {event["id"]}
    assert all(a["latency_ms"] >= 0 and a["created_at"] for a in log)


async def test_a_delivered_event_is_not_sent_again_by_a_second_job(
    committed_client_for: ClientFactory, pg_committed_db: Database, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([200]) as receiver:
        endpoint = await register(alice, receiver.url)
        await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        await run_worker()
        # At-least-once queue: the same delivery's job running again sends nothing.
        async with pg_committed_db.transaction() as session:
            delivery_id = await session.scalar(select(WebhookDelivery.id))
            await enqueue(
                session,
                type=DELIVER_WEBHOOK,
                payload={"delivery_id": str(delivery_id)},
                image_id=None,
            )
        await run_worker()

    assert len(receiver.requests) == 1
    assert len(await attempts_log(alice, endpoint["id"])) == 1


async def test_a_failed_image_is_announced_with_its_error(
    committed_client_for: ClientFactory, pg_committed_db: Database, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([204]) as receiver:
        await register(alice, receiver.url)
        image_id = await staged_image_job(pg_committed_db, await new_project(alice), fail=True)

        await run_worker()

    [request] = receiver.requests
    event = json.loads(request.body)
    assert event["type"] == "image.failed"
    assert event["data"]["image"]["id"] == str(image_id)
    assert event["data"]["image"]["status"] == "error"
    assert event["data"]["image"]["error"] == "the photo could not be staged"


async def test_only_the_events_an_endpoint_subscribed_to_are_sent(
    committed_client_for: ClientFactory, pg_committed_db: Database, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([200]) as receiver:
        await register(alice, receiver.url, events=("image.failed",))
        await staged_image_job(pg_committed_db, await new_project(alice))

        await run_worker()

    assert receiver.requests == []


async def test_other_users_images_are_not_announced_to_me(
    committed_client_for: ClientFactory, pg_committed_db: Database, run_worker: RunWorker
) -> None:
    with running_receiver([200]) as receiver:
        await register(committed_client_for("alice"), receiver.url)
        bob = committed_client_for("bob")
        await staged_image_job(pg_committed_db, await new_project(bob))

        await run_worker()

    assert receiver.requests == []


async def test_the_test_button_sends_a_signed_ping(
    committed_client_for: ClientFactory, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([200]) as receiver:
        endpoint = await register(alice, receiver.url)
        sent = await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        assert sent.status_code == 202, sent.text

        await run_worker()

    [request] = receiver.requests
    event = json.loads(request.body)
    assert (event["type"], event["id"]) == ("ping", sent.json()["event_id"])
    assert event["data"]["endpoint"]["id"] == endpoint["id"]
    assert signatures.verify(endpoint["secret"], request.headers["vstage-signature"], request.body)
    [attempt] = await attempts_log(alice, endpoint["id"])
    assert (attempt["event_type"], attempt["status_code"]) == ("ping", 200)


async def test_a_receiver_too_slow_to_answer_is_retried_later_with_backoff(
    committed_client_for: ClientFactory,
    pg_committed_db: Database,
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 0.3)
    settings = pg_committed_db.settings.model_copy(update={"webhook_retry_base_seconds": 30})
    alice = committed_client_for("alice")
    with running_receiver([200], delay_s=1.0) as receiver:
        endpoint = await register(alice, receiver.url)
        await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")

        await run_worker(settings)

        assert len(receiver.requests) <= 1
    [attempt] = await attempts_log(alice, endpoint["id"])
    assert attempt["status_code"] is None
    assert "no answer within 0.3 s" in attempt["error"]
    async with pg_committed_db.transaction() as session:
        job = await session.scalar(select(Job).where(Job.type == DELIVER_WEBHOOK))
        record = await session.scalar(select(WebhookDelivery))
    assert job is not None
    assert record is not None
    assert (job.status, record.status) == ("queued", "pending")
    wait = (job.run_after - utcnow()).total_seconds()
    assert 25 < wait <= 30  # the first retry waits the base delay


async def test_an_event_is_given_up_24_hours_after_it_happened(
    committed_client_for: ClientFactory, pg_committed_db: Database, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([503]) as receiver:
        endpoint = await register(alice, receiver.url)
        await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        async with pg_committed_db.transaction() as session:
            await session.execute(
                update(WebhookEvent).values(created_at=utcnow() - timedelta(hours=24, minutes=1))
            )

        await run_worker()

    assert len(receiver.requests) == 1  # one last try, then no more
    async with pg_committed_db.transaction() as session:
        job = await session.scalar(select(Job).where(Job.type == DELIVER_WEBHOOK))
        record = await session.scalar(select(WebhookDelivery))
    assert job is not None
    assert record is not None
    assert (job.status, record.status, record.attempts) == ("failed", "failed", 1)


async def test_a_deleted_endpoint_gets_nothing_more(
    committed_client_for: ClientFactory, run_worker: RunWorker
) -> None:
    alice = committed_client_for("alice")
    with running_receiver([200]) as receiver:
        endpoint = await register(alice, receiver.url)
        await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        await alice.delete(f"/v1/webhook-endpoints/{endpoint['id']}")

        await run_worker()

    assert receiver.requests == []


def test_retries_back_off_exponentially_from_the_configured_base() -> None:
    assert [retry_delay(n, 30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(200, 30) == RETRY_WINDOW  # capped, never overflowing


async def test_embedded_mode_delivers_too(
    sqlite_client_for: ClientFactory, sqlite_db: Database
) -> None:
    """SQLite, one process: the event is emitted and delivered the same way."""
    alice = sqlite_client_for("alice")
    with running_receiver([200]) as receiver:
        endpoint = await register(alice, receiver.url)
        image_id = await staged_image_job(sqlite_db, await new_project(alice))

        await drain(sqlite_db)

    [request] = receiver.requests
    assert json.loads(request.body)["data"]["image"]["id"] == str(image_id)
    assert signatures.verify(endpoint["secret"], request.headers["vstage-signature"], request.body)
