"""``store_subscription``: how a state read from Stripe lands in our mirror."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user
from vstage.billing.stripe_client import SubscriptionState
from vstage.billing.subscriptions import store_subscription
from vstage.models import User
from vstage.plans.service import get_plan, set_plan

T0 = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)


def state(
    status: str, *, customer: str = "cus_store", price: str | None = None
) -> SubscriptionState:
    return SubscriptionState(
        id="sub_store",
        customer_id=customer,
        status=status,
        price_id=price,
        current_period_start=T0,
        current_period_end=T0 + timedelta(days=30),
        cancel_at_period_end=False,
    )


async def customer(session: AsyncSession) -> User:
    user = await make_user(session)
    user.stripe_customer_id = "cus_store"
    await session.flush()
    return user


async def test_an_older_read_never_overwrites_a_newer_one(session: AsyncSession) -> None:
    await customer(session)
    await store_subscription(session, state("canceled"), fetched_at=T0 + timedelta(seconds=2))

    row = await store_subscription(session, state("active"), fetched_at=T0 + timedelta(seconds=1))

    assert row is not None
    assert row.status == "canceled"
    assert row.synced_at == T0 + timedelta(seconds=2)


async def test_past_due_since_is_set_on_entry_and_kept_while_past_due(
    session: AsyncSession,
) -> None:
    await customer(session)
    failed = T0 - timedelta(hours=1)
    row = await store_subscription(session, state("past_due"), fetched_at=T0, past_due_at=failed)
    assert row is not None
    assert row.past_due_since == failed

    row = await store_subscription(session, state("past_due"), fetched_at=T0 + timedelta(days=1))
    assert row is not None
    assert row.past_due_since == failed

    row = await store_subscription(session, state("active"), fetched_at=T0 + timedelta(days=2))
    assert row is not None
    assert row.past_due_since is None


async def test_the_price_maps_to_the_plan_selling_it(session: AsyncSession) -> None:
    await set_plan(session, "pro", price_id="price_store_pro")
    await customer(session)
    row = await store_subscription(session, state("active", price="price_store_pro"), fetched_at=T0)
    assert row is not None
    assert row.plan_id == (await get_plan(session, "pro")).id


async def test_metadata_user_id_links_an_unknown_customer(session: AsyncSession) -> None:
    user = await make_user(session)
    linked = dataclasses.replace(
        state("active", customer="cus_new"), metadata={"user_id": str(user.id)}
    )

    row = await store_subscription(session, linked, fetched_at=T0)

    assert row is not None
    assert row.user_id == user.id
    await session.refresh(user)
    assert user.stripe_customer_id == "cus_new"
