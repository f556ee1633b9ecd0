"""A thin, typed wrapper over ``stripe.StripeClient``: the only module that talks to Stripe.

It exposes the five calls billing needs and returns plain dataclasses, so the rest of
the code never handles ``StripeObject``. Every Stripe failure becomes
:class:`~vstage.errors.UpstreamError` (502). The API base is overridable
(``VSTAGE_STRIPE_API_BASE``) so tests drive the real library against a local fake.

None of these calls may run inside a database transaction that holds row locks
(DESIGN §6): callers read what they need in one short transaction, call Stripe with
no transaction open, then write the result in another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import CustomerCreateParams, SubscriptionListParams
from stripe.params.checkout import SessionCreateParams

from vstage.config import Settings
from vstage.errors import ServiceUnavailable, UpstreamError

STRIPE_TIMEOUT_SECONDS = 30.0
# Stripe answers 409 to a request whose Idempotency-Key is still in flight and marks
# transient failures retryable; the library retries those with backoff.
STRIPE_MAX_NETWORK_RETRIES = 3


@dataclass(frozen=True)
class SubscriptionState:
    """What we mirror of a Stripe subscription, as Stripe says it is *now*."""

    id: str
    customer_id: str
    status: str
    price_id: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    metadata: Mapping[str, str] = field(default_factory=dict)


def _timestamp(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def _expandable_id(value: object) -> str | None:
    """An expandable field is either an id or the expanded object carrying one."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def parse_subscription(data: Mapping[str, Any]) -> SubscriptionState:
    """Read a subscription object (API version endive: periods live on the items)."""
    items = (data.get("items") or {}).get("data") or []
    first: Mapping[str, Any] = items[0] if items else {}
    period_source = first if "current_period_end" in first else data
    return SubscriptionState(
        id=str(data["id"]),
        customer_id=_expandable_id(data.get("customer")) or "",
        status=str(data.get("status") or ""),
        price_id=_expandable_id(first.get("price")),
        current_period_start=_timestamp(period_source.get("current_period_start")),
        current_period_end=_timestamp(period_source.get("current_period_end")),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
    )


@asynccontextmanager
async def _upstream(action: str) -> AsyncIterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
        raise UpstreamError(f"Stripe could not {action}: {message}") from exc


class StripeGateway:
    """One Stripe API client with its own HTTP connection pool; close it when done."""

    def __init__(self, api_key: str, *, api_base: str | None = None) -> None:
        self._http = stripe.HTTPXClient(timeout=STRIPE_TIMEOUT_SECONDS)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=self._http,
            max_network_retries=STRIPE_MAX_NETWORK_RETRIES,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        if not settings.stripe_secret_key:
            raise ServiceUnavailable(
                "billing is not configured on this server (VSTAGE_STRIPE_SECRET_KEY is unset)"
            )
        return cls(settings.stripe_secret_key, api_base=settings.stripe_api_base)

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, *, user_id: str, auth0_sub: str, email: str | None) -> str:
        """Create the user's customer; the per-user Idempotency-Key makes it happen once.

        Concurrent first checkouts of one user send the same key, so Stripe answers all
        of them with the one customer it created (DESIGN §6).
        """
        params: CustomerCreateParams = {"metadata": {"user_id": user_id, "auth0_sub": auth0_sub}}
        if email:
            params["email"] = email
        async with _upstream("create a customer"):
            customer = await self._client.v1.customers.create_async(
                params,
                options={"idempotency_key": f"vstage-customer-{user_id}"},
            )
        return str(customer.id)

    async def create_checkout_session(
        self,
        *,
        customer_id: str,
        price_id: str,
        user_id: str,
        plan_code: str,
        success_url: str,
        cancel_url: str,
    ) -> str:
        """A hosted Checkout page for a subscription to ``price_id``; returns its URL."""
        metadata = {"user_id": user_id, "plan": plan_code}
        params: SessionCreateParams = {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": user_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
            # The subscription carries our user id too, so any of its events maps
            # back to the user even if the customer link were missing.
            "subscription_data": {"metadata": metadata},
        }
        async with _upstream("start a checkout"):
            session = await self._client.v1.checkout.sessions.create_async(params)
        return str(session.url)

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        """A Customer Portal session (change plan, cancel, card, invoices); returns its URL."""
        async with _upstream("open the billing portal"):
            session = await self._client.v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}
            )
        return str(session.url)

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState | None:
        """The subscription as Stripe has it now; ``None`` if Stripe does not know it."""
        try:
            async with _upstream("read a subscription"):
                sub = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except UpstreamError as exc:
            cause = exc.__cause__
            if isinstance(cause, stripe.InvalidRequestError) and cause.http_status == 404:
                return None
            raise
        return parse_subscription(sub.to_dict())

    async def list_subscriptions(self, customer_id: str) -> list[SubscriptionState]:
        """Every subscription of a customer, canceled ones included, all pages."""
        found: list[SubscriptionState] = []
        params: SubscriptionListParams = {"customer": customer_id, "status": "all", "limit": 100}
        while True:
            async with _upstream("list subscriptions"):
                page = await self._client.v1.subscriptions.list_async(params)
            batch = [parse_subscription(s.to_dict()) for s in page.data]
            found.extend(batch)
            if not page.has_more or not batch:
                return found
            params["starting_after"] = batch[-1].id
