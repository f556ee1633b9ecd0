"""Stripe webhooks: verified, stored once, applied once, in any order (DESIGN §4).

1. The ``Stripe-Signature`` header is checked with the endpoint secret (300 s tolerance)
   before anything is stored.
2. The event id is *claimed* in ``stripe_events`` (INSERT … ON CONFLICT DO NOTHING in a
   short transaction). A processed event is a duplicate: 200, no effect. A delivery
   that finds the event claimed but unprocessed waits briefly for the other delivery
   to finish, so parallel duplicates also answer 200 without a second effect.
3. The handler re-reads the subscription from the Stripe API (no transaction open) and
   writes Stripe's current state together with ``processed_at`` in one transaction:
   the event counts as processed exactly when its effect is stored. On failure the
   claim is released so Stripe's retry applies it; a claim left by a crashed process
   can be taken over after :data:`STALE_CLAIM`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.billing.stripe_client import StripeGateway, SubscriptionState, parse_subscription
from vstage.billing.subscriptions import link_customer, store_subscription
from vstage.db import Database
from vstage.errors import Conflict, ServiceUnavailable, VstageError
from vstage.models import StripeEvent, utcnow

SIGNATURE_TOLERANCE_SECONDS = 300
CLAIM_WAIT_SECONDS = 5.0
CLAIM_POLL_SECONDS = 0.05
STALE_CLAIM = timedelta(seconds=60)

CHECKOUT_COMPLETED = "checkout.session.completed"
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
HANDLED_TYPES = SUBSCRIPTION_EVENTS | INVOICE_EVENTS | {CHECKOUT_COMPLETED}


class InvalidSignature(VstageError):
    """The body is not a recent event signed with our endpoint secret."""

    status_code = 400
    code = "invalid_signature"


class Outcome(enum.StrEnum):
    processed = "processed"
    duplicate = "duplicate"
    ignored = "ignored"


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: datetime
    object: Mapping[str, Any]


def verify_event(payload: bytes, signature: str | None, secret: str | None) -> WebhookEvent:
    """Check the signature and timestamp, then parse; raises :class:`InvalidSignature`."""
    if not secret:
        raise ServiceUnavailable(
            "Stripe webhooks are not configured on this server (VSTAGE_STRIPE_WEBHOOK_SECRET)"
        )
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        body = json.loads(payload)
        data = body["data"]["object"]
        event = WebhookEvent(
            id=str(body["id"]),
            type=str(body["type"]),
            created=datetime.fromtimestamp(int(body.get("created") or time.time()), UTC),
            object=data if isinstance(data, Mapping) else {},
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(f"invalid Stripe-Signature: {exc}") from None
    except (ValueError, KeyError, TypeError):
        raise InvalidSignature("signed body is not a Stripe event") from None
    return event


class _Claim(enum.Enum):
    ours = "ours"
    done = "done"
    busy = "busy"


async def _try_claim(session: AsyncSession, event: WebhookEvent) -> _Claim:
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = await session.scalar(
        insert(StripeEvent)
        .values(id=event.id, type=event.type, received_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    if inserted is not None:
        return _Claim.ours
    taken_over = await session.scalar(
        update(StripeEvent)
        .where(
            StripeEvent.id == event.id,
            StripeEvent.processed_at.is_(None),
            StripeEvent.received_at < now - STALE_CLAIM,
        )
        .values(received_at=now)
        .returning(StripeEvent.id)
    )
    if taken_over is not None:
        return _Claim.ours
    processed = await session.scalar(
        select(StripeEvent.processed_at).where(StripeEvent.id == event.id)
    )
    return _Claim.done if processed is not None else _Claim.busy


async def _claim(db: Database, event: WebhookEvent) -> bool:
    """True if this delivery must apply the event, False if it is already applied."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        async with db.transaction() as session:
            claim = await _try_claim(session, event)
        if claim is not _Claim.busy:
            return claim is _Claim.ours
        if time.monotonic() > deadline:
            raise Conflict(f"event {event.id} is being processed by another delivery")
        await asyncio.sleep(CLAIM_POLL_SECONDS)


async def _release(db: Database, event_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            delete(StripeEvent).where(
                StripeEvent.id == event_id, StripeEvent.processed_at.is_(None)
            )
        )


def _ref(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _user_id(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """Older API versions put it on the invoice, newer ones under ``parent``."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _ref(invoice.get("subscription")) or _ref(details.get("subscription"))


async def _apply(db: Database, gateway: StripeGateway, event: WebhookEvent) -> None:
    obj = event.object
    user_hint: uuid.UUID | None = None
    customer_id = _ref(obj.get("customer"))
    if event.type == CHECKOUT_COMPLETED:
        metadata = obj.get("metadata") or {}
        user_hint = _user_id(obj.get("client_reference_id")) or _user_id(metadata.get("user_id"))
        subscription_id = _ref(obj.get("subscription"))
    elif event.type in SUBSCRIPTION_EVENTS:
        subscription_id = _ref(obj.get("id"))
    else:
        subscription_id = _invoice_subscription(obj)
    fetched_at = utcnow()
    state: SubscriptionState | None = None
    if subscription_id:
        state = await gateway.retrieve_subscription(subscription_id)
        if state is None and event.type == "customer.subscription.deleted":
            state = parse_subscription(obj)  # gone from the API: the event is the final word
    past_due_at = event.created if event.type == "invoice.payment_failed" else None
    async with db.transaction() as session:
        if user_hint is not None and customer_id:
            await link_customer(session, user_hint, customer_id)
        if state is not None:
            await store_subscription(
                session, state, fetched_at=fetched_at, user_hint=user_hint, past_due_at=past_due_at
            )
        await session.execute(
            update(StripeEvent).where(StripeEvent.id == event.id).values(processed_at=utcnow())
        )


async def handle_event(db: Database, gateway: StripeGateway, event: WebhookEvent) -> Outcome:
    """Apply a verified event at most once; safe to call for every delivery."""
    if event.type not in HANDLED_TYPES:
        return Outcome.ignored
    if not await _claim(db, event):
        return Outcome.duplicate
    try:
        await _apply(db, gateway, event)
    except BaseException:
        await asyncio.shield(_release(db, event.id))
        raise
    return Outcome.processed
