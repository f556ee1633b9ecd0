"""The ``deliver_webhook`` job: one attempt per run, the retry schedule kept here.

Each run makes one signed attempt and logs it (``webhook_attempts``). A 2xx delivers;
anything else (non-2xx, timeout, connection error) is retried after
``VSTAGE_WEBHOOK_RETRY_BASE_SECONDS · 2^(attempt-1)`` — through the queue, with
:class:`~vstage.queue.RetryJobLater` — until 24 h after the event, the last attempt
falling on the 24 h mark. A URL that now resolves to a non-public address is refused
and not retried. The delivery row, unique per (endpoint, event), is what makes a second
run of a finished delivery (at-least-once queue) send nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from vstage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from vstage.queue import JobContext, JobResult, PermanentJobError, RetryJobLater, handler
from vstage.webhooks import delivery
from vstage.webhooks.events import DELIVER_WEBHOOK
from vstage.webhooks.signing import signature_header

#: How long an event keeps being retried.
RETRY_WINDOW = timedelta(hours=24)


class DeliverPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delivery_id: uuid.UUID


def retry_delay(attempt: int, base_seconds: float) -> timedelta:
    """``base · 2^(attempt-1)``: 30 s, 1 min, 2 min, … with the default base."""
    seconds = base_seconds * 2 ** min(attempt - 1, 32)
    return timedelta(seconds=min(seconds, RETRY_WINDOW.total_seconds()))


@handler(DELIVER_WEBHOOK, DeliverPayload)
async def deliver_webhook(ctx: JobContext, payload: DeliverPayload) -> JobResult:
    """One signed attempt; raises to have the queue retry it (or fail it for good)."""
    row = await _load(ctx, payload.delivery_id)
    if row is None:
        return JobResult(data={"outcome": "endpoint deleted"})
    record, url, secret, event = row
    if record.status != "pending":
        return JobResult(data={"outcome": f"already {record.status}"})

    attempt = record.attempts + 1
    timestamp = int(time.time())
    result = await delivery.post(
        url,
        event.body,
        {
            "Vstage-Signature": signature_header(secret, timestamp, event.body),
            "Vstage-Event-Id": event.id,
            "Vstage-Event-Type": event.type,
        },
        ctx.settings,
    )
    now = utcnow()
    deadline = event.created_at + RETRY_WINDOW
    last_chance = result.refused or now >= deadline or ctx.job.attempts >= ctx.job.max_attempts
    status = "delivered" if result.ok else "failed" if last_chance else "pending"
    await _record(ctx, record, attempt, result, status, now)

    outcome = f"HTTP {result.status_code}" if result.status_code is not None else result.error
    if status == "delivered":
        return JobResult(data={"outcome": "delivered", "attempts": attempt, "status": outcome})
    if status == "failed":
        raise PermanentJobError(f"webhook delivery gave up after attempt {attempt}: {outcome}")
    delay = min(retry_delay(attempt, ctx.settings.webhook_retry_base_seconds), deadline - now)
    raise RetryJobLater(f"webhook attempt {attempt}: {outcome}", delay=delay)


async def _load(
    ctx: JobContext, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, str, str, WebhookEvent] | None:
    """The delivery, its endpoint's URL and secret, and its event (``None``: endpoint gone)."""
    async with ctx.db.sessionmaker() as session:
        row = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def _record(
    ctx: JobContext,
    record: WebhookDelivery,
    attempt: int,
    result: delivery.AttemptResult,
    status: str,
    now: datetime,
) -> None:
    """Log the attempt and move the delivery on, in one transaction."""
    async with ctx.db.transaction() as session:
        session.add(
            WebhookAttempt(
                id=uuid.uuid4(),
                delivery_id=record.id,
                endpoint_id=record.endpoint_id,
                event_id=record.event_id,
                attempt=attempt,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                error=result.error,
                created_at=now,
            )
        )
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == record.id)
            .values(
                attempts=attempt, status=status, finished_at=None if status == "pending" else now
            )
            .execution_options(synchronize_session=False)
        )
