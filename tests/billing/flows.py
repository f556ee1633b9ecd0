"""Steps billing tests share, each as a user or Stripe would perform it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from tests.fixtures.stripe import FakeStripe, deliver
from vstage.db import Database
from vstage.models import StripeEvent, Subscription


async def subscribe(client: httpx.AsyncClient, fake: FakeStripe, plan: str = "pro") -> str:
    """Checkout, pay on Stripe's page, Stripe notifies us; returns the subscription id."""
    response = await client.post("/v1/billing/checkout", json={"plan": plan})
    assert response.status_code == 200, response.text
    session = fake.complete_checkout(response.json()["url"])
    delivered = await deliver(client, fake.event("checkout.session.completed", session))
    assert delivered.status_code == 200, delivered.text
    return str(session["subscription"])


async def me(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/v1/me")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_subscription(db: Database, subscription_id: str) -> Subscription | None:
    async with db.transaction() as session:
        return await session.scalar(
            select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)
        )


async def count_rows(db: Database, model: type[StripeEvent] | type[Subscription]) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
