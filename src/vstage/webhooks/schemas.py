"""Request and response bodies of ``/v1/webhook-endpoints``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vstage.models import WebhookAttempt, WebhookEndpoint
from vstage.webhooks.urls import MAX_URL_LENGTH

EventType = Literal["image.ready", "image.failed", "job.progress"]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="https URL whose host resolves only to public addresses.",
    )
    events: list[EventType] = Field(
        min_length=1,
        max_length=3,
        description="`image.ready`, `image.failed`; `job.progress` is accepted but not sent yet.",
    )

    @field_validator("events")
    @classmethod
    def _distinct(cls, events: list[EventType]) -> list[EventType]:
        return list(dict.fromkeys(events))


class WebhookEndpointRead(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookEndpoint) -> WebhookEndpointRead:
        return cls(id=row.id, url=row.url, events=list(row.events), created_at=row.created_at)


class WebhookEndpointCreated(WebhookEndpointRead):
    """The answer to a create: the only time ``secret`` is shown."""

    secret: str = Field(
        description="Signs every delivery: `Vstage-Signature: t=<unix>,v1=<hex HMAC-SHA256("
        "secret, '<t>.<body>')>`. Shown once; store it."
    )


class WebhookAttemptRead(BaseModel):
    """One attempt from the delivery log."""

    event_id: str
    event_type: str
    attempt: int = Field(description="1 for the first try of this event at this endpoint.")
    status_code: int | None = Field(description="The receiver's HTTP status; null if none.")
    latency_ms: int
    error: str | None = Field(description="Why there was no 2xx: timeout, refusal, …")
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookAttempt, *, event_type: str) -> WebhookAttemptRead:
        return cls(
            event_id=row.event_id,
            event_type=event_type,
            attempt=row.attempt,
            status_code=row.status_code,
            latency_ms=row.latency_ms,
            error=row.error,
            created_at=row.created_at,
        )


class TestEventSent(BaseModel):
    event_id: str
    type: Literal["ping"] = "ping"
