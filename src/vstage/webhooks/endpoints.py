"""``/v1/webhook-endpoints``: where a user's signed event notifications go.

Creating is not idempotent-replayable on purpose: a stored replay would keep the
signing secret in the idempotency table as well.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from vstage.auth.dependencies import CurrentUser
from vstage.dependencies import SessionDep, SettingsDep
from vstage.pagination import Page, PageDep, page_of
from vstage.webhooks import service
from vstage.webhooks.schemas import (
    TestEventSent,
    WebhookAttemptRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookEndpointCreated)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> WebhookEndpointCreated:
    """Register a URL for the given events; the signing ``secret`` is in this answer only.

    422 when the URL is not https (outside embedded mode) or its host resolves to a
    loopback, link-local, private or otherwise non-public address.
    """
    endpoint = await service.create_endpoint(session, user, body.url, body.events, settings)
    return WebhookEndpointCreated(
        **WebhookEndpointRead.of(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get("", response_model=Page[WebhookEndpointRead])
async def list_webhook_endpoints(
    user: CurrentUser, session: SessionDep, page: PageDep
) -> Page[WebhookEndpointRead]:
    rows = await service.list_endpoints(session, user, page)
    return page_of(rows, page, WebhookEndpointRead.of)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Stop sending to this URL; pending deliveries are dropped with its log."""
    await service.delete_endpoint(session, user, endpoint_id)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=Page[WebhookAttemptRead])
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID, user: CurrentUser, session: SessionDep, page: PageDep
) -> Page[WebhookAttemptRead]:
    """The delivery log: every attempt, newest first, with status code and latency."""
    rows = await service.list_attempts(session, user, endpoint_id, page)
    return page_of(
        rows,
        page,
        lambda row: WebhookAttemptRead.of(row[0], event_type=row[1]),
        key=lambda row: row[0],
    )


@router.post("/{endpoint_id}/test", status_code=202, response_model=TestEventSent)
async def send_webhook_test_event(
    endpoint_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> TestEventSent:
    """Queue a signed ``ping`` event to this endpoint; follow it in the delivery log."""
    event = await service.send_test_event(session, user, endpoint_id)
    return TestEventSent(event_id=event.id)
