"""Real concurrency on a real connection pool: parallel duplicates and racing checkouts."""

from __future__ import annotations

import asyncio

from tests.billing.flows import count_rows, me, stored_subscription
from tests.fixtures.app import ClientFactory
from tests.fixtures.stripe import FakeStripe, deliver
from vstage.db import Database
from vstage.models import StripeEvent, Subscription, User


async def test_ten_parallel_deliveries_of_one_event_apply_it_once(
    billing_committed_client_for: ClientFactory,
    fake_stripe: FakeStripe,
    pg_committed_db: Database,
) -> None:
    alice = billing_committed_client_for("alice")
    response = await alice.post("/v1/billing/checkout", json={"plan": "pro"})
    session = fake_stripe.complete_checkout(response.json()["url"])
    sub_id = session["subscription"]
    event = fake_stripe.event("checkout.session.completed", session)

    responses = await asyncio.gather(
        *(deliver(billing_committed_client_for(None), event) for _ in range(10))
    )

    assert [r.status_code for r in responses] == [200] * 10
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate"] * 9 + ["processed"]
    assert fake_stripe.count("GET", f"/v1/subscriptions/{sub_id}") == 1
    assert await count_rows(pg_committed_db, StripeEvent) == 1
    assert await count_rows(pg_committed_db, Subscription) == 1
    stored = await stored_subscription(pg_committed_db, sub_id)
    assert stored is not None
    assert stored.status == "active"
    assert (await me(alice))["plan"]["code"] == "pro"


async def test_two_concurrent_checkouts_of_a_new_user_create_one_customer(
    billing_committed_client_for: ClientFactory,
    fake_stripe: FakeStripe,
    pg_committed_db: Database,
) -> None:
    clients = [billing_committed_client_for("newcomer") for _ in range(2)]

    responses = await asyncio.gather(
        *(c.post("/v1/billing/checkout", json={"plan": "pro"}) for c in clients)
    )

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    # Both requests raced to create the customer; the per-user Idempotency-Key made it one.
    assert fake_stripe.count("POST", "/v1/customers") == 2
    assert len(fake_stripe.customers) == 1
    (customer_id,) = fake_stripe.customers
    assert {s["customer"] for s in fake_stripe.checkout_sessions.values()} == {customer_id}
    async with pg_committed_db.transaction() as session:
        users = (await session.scalars(User.__table__.select())).all()
    assert len(users) == 1
    assert await count_rows(pg_committed_db, StripeEvent) == 0


async def test_parallel_deliveries_of_different_events_end_in_stripes_state(
    billing_committed_client_for: ClientFactory,
    fake_stripe: FakeStripe,
    pg_committed_db: Database,
) -> None:
    """All of a subscription's events at once (as at checkout): one row, the final state."""
    alice = billing_committed_client_for("alice")
    response = await alice.post("/v1/billing/checkout", json={"plan": "pro"})
    session = fake_stripe.complete_checkout(response.json()["url"], status="incomplete")
    sub_id = session["subscription"]
    events = [fake_stripe.event("checkout.session.completed", session)]
    for status in ("active", "past_due", "active"):
        sub = fake_stripe.update_subscription(sub_id, status=status)
        events.append(fake_stripe.event("customer.subscription.updated", sub))
    final = fake_stripe.update_subscription(sub_id, cancel_at_period_end=True)
    events.append(fake_stripe.event("customer.subscription.updated", final))

    responses = await asyncio.gather(*(deliver(alice, e) for e in reversed(events)))

    assert {r.status_code for r in responses} == {200}
    stored = await stored_subscription(pg_committed_db, sub_id)
    assert stored is not None
    assert (stored.status, stored.cancel_at_period_end) == ("active", True)
    assert stored.past_due_since is None
