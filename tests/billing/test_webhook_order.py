"""Events may arrive in any order and more than once; the stored subscription always ends
as Stripe's current one, because handlers re-read it from the Stripe API."""

from __future__ import annotations

import time

from tests.billing.flows import count_rows, me, stored_subscription, subscribe
from tests.fixtures.app import ClientFactory
from tests.fixtures.stripe import FakeStripe, deliver
from vstage.db import Database
from vstage.models import StripeEvent, Subscription


async def test_a_redelivered_event_has_no_second_effect(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    event = fake_stripe.event("customer.subscription.updated", fake_stripe.subscription(sub_id))
    reads_before = fake_stripe.count("GET", f"/v1/subscriptions/{sub_id}")

    first = await deliver(alice, event)
    again = await deliver(alice, event)

    assert first.json()["outcome"] == "processed"
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert fake_stripe.count("GET", f"/v1/subscriptions/{sub_id}") == reads_before + 1
    assert await count_rows(pg_db, StripeEvent) == 2  # checkout.session.completed + this one


async def test_deleted_before_created_ends_canceled(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    response = await alice.post("/v1/billing/checkout", json={"plan": "pro"})
    session = fake_stripe.complete_checkout(response.json()["url"])
    sub_id = session["subscription"]
    created = fake_stripe.event("customer.subscription.created", fake_stripe.subscription(sub_id))
    canceled = fake_stripe.update_subscription(sub_id, status="canceled")
    deleted = fake_stripe.event("customer.subscription.deleted", canceled)

    for event in (deleted, created, fake_stripe.event("checkout.session.completed", session)):
        assert (await deliver(alice, event)).status_code == 200

    stored = await stored_subscription(pg_db, sub_id)
    assert stored is not None
    assert stored.status == "canceled"
    assert (await me(alice))["plan"]["code"] == "free"


async def test_updates_delivered_in_reverse_end_in_the_latest_state(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    now = int(time.time())
    updates = [
        fake_stripe.update_subscription(sub_id, period_start=now, period_end=now + 100_000),
        fake_stripe.update_subscription(sub_id, cancel_at_period_end=True),
        fake_stripe.update_subscription(sub_id, status="past_due"),
    ]
    events = [fake_stripe.event("customer.subscription.updated", u) for u in updates]

    for event in reversed(events):
        assert (await deliver(alice, event)).json()["outcome"] == "processed"

    stored = await stored_subscription(pg_db, sub_id)
    final = fake_stripe.subscription(sub_id)
    assert stored is not None
    assert stored.status == final["status"] == "past_due"
    assert stored.cancel_at_period_end is True
    assert stored.current_period_end is not None
    assert int(stored.current_period_end.timestamp()) == now + 100_000
    assert await count_rows(pg_db, Subscription) == 1


async def test_invoice_events_find_their_subscription(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    fake_stripe.update_subscription(sub_id, price="price_team")

    invoice = fake_stripe.invoice(sub_id, paid=True)
    response = await deliver(alice, fake_stripe.event("invoice.paid", invoice))

    assert response.json()["outcome"] == "processed"
    stored = await stored_subscription(pg_db, sub_id)
    assert stored is not None
    assert stored.price_id == "price_team"
    assert stored.plan_id is None  # no plan sells that price: not entitled to anything paid
    assert (await me(alice))["plan"]["code"] == "free"


async def test_a_subscription_of_an_unknown_customer_is_acknowledged_not_stored(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    sub = fake_stripe.create_subscription("cus_from_another_app")
    response = await deliver(
        billing_client_for(None), fake_stripe.event("customer.subscription.created", sub)
    )
    assert response.json()["outcome"] == "processed"
    assert await count_rows(pg_db, Subscription) == 0


async def test_a_stripe_outage_releases_the_event_so_the_retry_applies_it(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    sub_id = await subscribe(alice, fake_stripe)
    fake_stripe.update_subscription(sub_id, cancel_at_period_end=True)
    event = fake_stripe.event("customer.subscription.updated", fake_stripe.subscription(sub_id))
    fake_stripe.outage("GET", f"/v1/subscriptions/{sub_id}")

    failed = await deliver(alice, event)

    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "upstream_error"
    assert await count_rows(pg_db, StripeEvent) == 1  # only the checkout's event

    retried = await deliver(alice, event)

    assert retried.json()["outcome"] == "processed"
    stored = await stored_subscription(pg_db, sub_id)
    assert stored is not None
    assert stored.cancel_at_period_end is True
