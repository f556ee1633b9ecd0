"""A subscription's life as the user sees it in ``/v1/me``: cancel, dunning, recovery."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from tests.billing.flows import me, stored_subscription, subscribe
from tests.fixtures.app import ClientFactory
from tests.fixtures.stripe import FakeStripe, deliver
from vstage.billing.entitlement import get_entitlement
from vstage.db import Database
from vstage.models import User, utcnow


async def entitlement_at(db: Database, user_id: str, delta: timedelta) -> str:
    """The user's plan ``delta`` from now, as the quota check would compute it."""
    async with db.transaction() as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        ent = await get_entitlement(session, user, grace_days=3, now=utcnow() + delta)
        return ent.plan_code


async def test_cancel_keeps_pro_until_period_end_then_free(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    user_id = (await me(alice))["id"]

    canceling = fake_stripe.update_subscription(sub_id, cancel_at_period_end=True)
    await deliver(alice, fake_stripe.event("customer.subscription.updated", canceling))

    stored = await stored_subscription(pg_db, sub_id)
    assert stored is not None
    assert stored.cancel_at_period_end is True
    assert (await me(alice))["plan"]["code"] == "pro"
    assert await entitlement_at(pg_db, user_id, timedelta(days=29)) == "pro"
    assert await entitlement_at(pg_db, user_id, timedelta(days=31)) == "free"

    ended = fake_stripe.update_subscription(sub_id, status="canceled")
    await deliver(alice, fake_stripe.event("customer.subscription.deleted", ended))

    assert (await me(alice))["plan"] == {"code": "free", "monthly_limit": 3}


async def test_failed_payment_keeps_pro_for_the_grace_days_then_free(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    user_id = (await me(alice))["id"]

    fake_stripe.update_subscription(sub_id, status="past_due")
    failed = fake_stripe.invoice(sub_id, paid=False)
    await deliver(alice, fake_stripe.event("invoice.payment_failed", failed))

    assert (await me(alice))["plan"]["code"] == "pro"
    assert await entitlement_at(pg_db, user_id, timedelta(days=2, hours=23)) == "pro"
    assert await entitlement_at(pg_db, user_id, timedelta(days=3, minutes=1)) == "free"

    # A later event while still past_due does not restart the grace period.
    later = fake_stripe.event("customer.subscription.updated", fake_stripe.subscription(sub_id))
    later["created"] = int(time.time()) + 3600
    await deliver(alice, later)
    assert await entitlement_at(pg_db, user_id, timedelta(days=3, minutes=1)) == "free"

    # Stripe gives up: unpaid means free at once.
    fake_stripe.update_subscription(sub_id, status="unpaid")
    await deliver(alice, fake_stripe.event("invoice.payment_failed", failed))
    assert (await me(alice))["plan"]["code"] == "free"


async def test_paying_the_invoice_restores_pro(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    fake_stripe.update_subscription(sub_id, status="unpaid")
    await deliver(
        alice, fake_stripe.event("invoice.payment_failed", fake_stripe.invoice(sub_id, paid=False))
    )
    assert (await me(alice))["plan"]["code"] == "free"

    fake_stripe.update_subscription(sub_id, status="active")
    await deliver(alice, fake_stripe.event("invoice.paid", fake_stripe.invoice(sub_id, paid=True)))

    assert (await me(alice))["plan"]["code"] == "pro"
