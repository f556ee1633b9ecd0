"""``get_entitlement``: the plan the quota check sees, at any given moment (DESIGN §6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user
from vstage.billing.entitlement import get_entitlement
from vstage.models import Subscription, User
from vstage.plans.service import get_plan, set_plan

NOW = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)
PERIOD_START = NOW - timedelta(days=10)
PERIOD_END = NOW + timedelta(days=20)


async def add_subscription(
    session: AsyncSession, user: User, *, status: str, plan: str = "pro", **fields: object
) -> Subscription:
    values: dict[str, object] = {
        "current_period_start": PERIOD_START,
        "current_period_end": PERIOD_END,
        "updated_at": NOW - timedelta(days=1),
        **fields,
    }
    sub = Subscription(
        id=uuid.uuid4(),
        user_id=user.id,
        stripe_subscription_id=f"sub_{uuid.uuid4().hex[:10]}",
        plan_id=(await get_plan(session, plan)).id,
        status=status,
        **values,
    )
    session.add(sub)
    await session.flush()
    return sub


async def plan_at(session: AsyncSession, user: User, now: datetime, grace_days: int = 3) -> str:
    return (await get_entitlement(session, user, grace_days=grace_days, now=now)).plan_code


async def test_no_subscription_is_free_over_the_calendar_month(session: AsyncSession) -> None:
    user = await make_user(session)
    ent = await get_entitlement(session, user, grace_days=3, now=NOW)
    assert (ent.plan_code, ent.monthly_limit) == ("free", 3)
    assert ent.period_start == datetime(2031, 5, 1, tzinfo=UTC)
    assert ent.period_end == datetime(2031, 6, 1, tzinfo=UTC)


async def test_december_rolls_into_next_year(session: AsyncSession) -> None:
    user = await make_user(session)
    ent = await get_entitlement(session, user, grace_days=3, now=datetime(2031, 12, 31, tzinfo=UTC))
    assert ent.period_end == datetime(2032, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "plan"),
    [
        ("active", "pro"),
        ("trialing", "pro"),
        ("unpaid", "free"),
        ("canceled", "free"),
        ("incomplete", "free"),
        ("incomplete_expired", "free"),
        ("paused", "free"),
    ],
)
async def test_status_decides_the_plan(session: AsyncSession, status: str, plan: str) -> None:
    user = await make_user(session)
    await add_subscription(session, user, status=status)
    assert await plan_at(session, user, NOW) == plan


async def test_a_paid_plan_counts_over_the_subscription_period(session: AsyncSession) -> None:
    user = await make_user(session)
    await add_subscription(session, user, status="active")
    ent = await get_entitlement(session, user, grace_days=3, now=NOW)
    assert (ent.plan_code, ent.monthly_limit) == ("pro", 100)
    assert (ent.period_start, ent.period_end) == (PERIOD_START, PERIOD_END)
    assert ent.subscription_status == "active"


async def test_past_due_keeps_the_plan_for_the_grace_days(session: AsyncSession) -> None:
    user = await make_user(session)
    failed_at = NOW - timedelta(days=1)
    await add_subscription(session, user, status="past_due", past_due_since=failed_at)
    assert await plan_at(session, user, failed_at + timedelta(days=2, hours=23)) == "pro"
    assert await plan_at(session, user, failed_at + timedelta(days=3)) == "free"
    assert await plan_at(session, user, failed_at + timedelta(days=1), grace_days=0) == "free"


async def test_cancel_at_period_end_is_paid_until_the_end_only(session: AsyncSession) -> None:
    user = await make_user(session)
    await add_subscription(session, user, status="active", cancel_at_period_end=True)
    assert await plan_at(session, user, PERIOD_END - timedelta(seconds=1)) == "pro"
    # Stripe's final "deleted" event may be late; the period end is what counts.
    assert await plan_at(session, user, PERIOD_END) == "free"


async def test_the_larger_of_two_entitling_plans_wins(session: AsyncSession) -> None:
    await set_plan(session, "team", price_id="price_team", limit=500)
    user = await make_user(session)
    await add_subscription(session, user, status="active", plan="pro", updated_at=NOW)
    await add_subscription(session, user, status="active", plan="team")
    ent = await get_entitlement(session, user, grace_days=3, now=NOW)
    assert (ent.plan_code, ent.monthly_limit) == ("team", 500)


async def test_a_stale_active_period_falls_back_to_the_calendar_month(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    await add_subscription(
        session, user, status="active", current_period_end=NOW - timedelta(days=1)
    )
    ent = await get_entitlement(session, user, grace_days=3, now=NOW)
    assert ent.plan_code == "pro"
    assert ent.period_start == datetime(2031, 5, 1, tzinfo=UTC)


async def test_limits_are_read_fresh(session: AsyncSession) -> None:
    user = await make_user(session)
    await add_subscription(session, user, status="active")
    await set_plan(session, "pro", limit=250)
    assert (await get_entitlement(session, user, grace_days=3, now=NOW)).monthly_limit == 250
