"""What a user may use right now: their plan and the usage period it counts against.

This is the one function the quota check calls. The plan comes from the user's
subscription (mirrored from Stripe), never from a column on the user:
``active``/``trialing`` → the subscription's plan; ``past_due`` → still the plan for
``billing_grace_days`` after the failed payment; anything else (``unpaid``,
``canceled``, ``incomplete``, ``incomplete_expired``, ``paused``) → ``free``. A
subscription set to cancel at period end stays paid until that end, and not a moment
longer even if Stripe's final ``deleted`` event is late. Paid plans count usage over the
subscription's current period, free over the calendar month (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Plan, Subscription, User, utcnow
from vstage.plans.service import FREE_PLAN, get_plan

ENTITLED_STATUSES = frozenset({"active", "trialing"})
GRACE_STATUS = "past_due"


@dataclass(frozen=True)
class Entitlement:
    plan_code: str
    monthly_limit: int
    period_start: datetime
    period_end: datetime
    subscription_status: str | None = None


def calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def is_entitled(sub: Subscription, now: datetime, grace_days: int) -> bool:
    """Whether ``sub`` grants its plan at ``now`` (DESIGN §6 billing rules)."""
    ending = sub.current_period_end
    if sub.cancel_at_period_end and ending is not None and ending <= now:
        return False
    if sub.status in ENTITLED_STATUSES:
        return True
    if sub.status == GRACE_STATUS:
        since = sub.past_due_since or sub.updated_at
        return now < since + timedelta(days=grace_days)
    return False


async def get_entitlement(
    session: AsyncSession, user: User, *, grace_days: int, now: datetime | None = None
) -> Entitlement:
    """The plan ``user`` may use at ``now`` and the usage period it counts against.

    With several entitling subscriptions (a plan change in flight) the larger plan wins.
    """
    now = now or utcnow()
    rows = await session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.user_id == user.id)
        .order_by(Plan.monthly_limit.desc(), Subscription.updated_at.desc())
    )
    for sub, plan in rows:
        if not is_entitled(sub, now, grace_days):
            continue
        start, end = calendar_month(now)
        if sub.current_period_start and sub.current_period_end and sub.current_period_end > now:
            start, end = sub.current_period_start, sub.current_period_end
        return Entitlement(plan.code, plan.monthly_limit, start, end, sub.status)
    free = await get_plan(session, FREE_PLAN)
    start, end = calendar_month(now)
    return Entitlement(free.code, free.monthly_limit, start, end, None)
