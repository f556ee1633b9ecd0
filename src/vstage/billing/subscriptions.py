"""Mirroring Stripe subscriptions into ``subscriptions``: write Stripe's current state.

Every webhook handler and ``vstage billing sync`` end here with a state freshly read
from the Stripe API, so the result never depends on the order events arrive in. Two
handlers may still race (one read before a change, one after); each row remembers when
its state was read (``synced_at``) and an older read never overwrites a newer one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from vstage.billing.entitlement import GRACE_STATUS
from vstage.billing.stripe_client import SubscriptionState
from vstage.models import Plan, Subscription, User, utcnow

log = logging.getLogger(__name__)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def link_customer(session: AsyncSession, user_id: uuid.UUID, customer_id: str) -> None:
    """Record ``customer_id`` as the user's customer unless they already have one.

    First link wins: a user keeps one customer, and a customer never moves to another user.
    """
    other = aliased(User)
    await session.execute(
        update(User)
        .where(
            User.id == user_id,
            User.stripe_customer_id.is_(None),
            ~exists().where(other.stripe_customer_id == customer_id),
        )
        .values(stripe_customer_id=customer_id)
    )


async def _owner(
    session: AsyncSession, state: SubscriptionState, user_hint: uuid.UUID | None
) -> uuid.UUID | None:
    """Whose subscription: by customer, else by the user id we put in metadata."""
    if state.customer_id:
        found = await session.scalar(
            select(User.id).where(User.stripe_customer_id == state.customer_id)
        )
        if found is not None:
            return found
    for candidate in (user_hint, _uuid(state.metadata.get("user_id"))):
        if candidate is not None and await session.get(User, candidate) is not None:
            if state.customer_id:
                await link_customer(session, candidate, state.customer_id)
            return candidate
    return None


async def _locked_row(session: AsyncSession, subscription_id: str) -> Subscription | None:
    return await session.scalar(
        select(Subscription)
        .where(Subscription.stripe_subscription_id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _insert_placeholder(session: AsyncSession, user_id: uuid.UUID, sub_id: str) -> None:
    """Create the row if absent; concurrent first writers end up with one row."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await session.execute(
        insert(Subscription)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            stripe_subscription_id=sub_id,
            status="incomplete",
            cancel_at_period_end=False,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["stripe_subscription_id"])
    )


async def store_subscription(
    session: AsyncSession,
    state: SubscriptionState,
    *,
    fetched_at: datetime,
    user_hint: uuid.UUID | None = None,
    past_due_at: datetime | None = None,
) -> Subscription | None:
    """Write ``state`` (read from Stripe at ``fetched_at``); ``None`` if no user owns it.

    ``past_due_since`` is set when the subscription enters ``past_due`` (to
    ``past_due_at``, the failed payment's time when known) and kept while it stays so.
    """
    row = await _locked_row(session, state.id)
    if row is None:
        owner = await _owner(session, state, user_hint)
        if owner is None:
            log.warning("subscription %s belongs to no known user; not stored", state.id)
            return None
        await _insert_placeholder(session, owner, state.id)
        row = await _locked_row(session, state.id)
        assert row is not None
    if row.synced_at is not None and row.synced_at > fetched_at:
        return row  # a newer read already landed
    plan_id = None
    if state.price_id:
        plan_id = await session.scalar(select(Plan.id).where(Plan.price_id == state.price_id))
    if state.status != GRACE_STATUS:
        row.past_due_since = None
    elif row.status != GRACE_STATUS or row.past_due_since is None:
        row.past_due_since = past_due_at or fetched_at
    row.status = state.status
    row.price_id = state.price_id
    row.plan_id = plan_id
    row.current_period_start = state.current_period_start
    row.current_period_end = state.current_period_end
    row.cancel_at_period_end = state.cancel_at_period_end
    row.synced_at = fetched_at
    row.updated_at = utcnow()
    await session.flush()
    return row
