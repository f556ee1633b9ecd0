"""Checkout and the Customer Portal, through the real stripe client and the fake Stripe."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.billing.flows import me, subscribe
from tests.fixtures.app import ClientFactory
from tests.fixtures.stripe import PRO_PRICE, PUBLIC_URL, FakeStripe, deliver
from vstage.db import Database
from vstage.models import User


async def test_checkout_then_completed_webhook_makes_the_user_pro(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    alice = billing_client_for("alice")
    assert (await me(alice))["plan"] == {"code": "free", "monthly_limit": 3}

    response = await alice.post("/v1/billing/checkout", json={"plan": "pro"})

    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(fake_stripe.base_url)
    (session,) = fake_stripe.checkout_sessions.values()
    user_id = (await me(alice))["id"]
    assert session["mode"] == "subscription"
    assert session["_price"] == PRO_PRICE
    assert session["client_reference_id"] == user_id
    assert session["success_url"].startswith(f"{PUBLIC_URL}/account?checkout=success")
    assert session["cancel_url"] == f"{PUBLIC_URL}/account?checkout=cancel"
    (customer,) = fake_stripe.customers.values()
    assert customer["metadata"]["user_id"] == user_id
    assert session["customer"] == customer["id"]

    paid = fake_stripe.complete_checkout(url)
    delivered = await deliver(alice, fake_stripe.event("checkout.session.completed", paid))
    assert delivered.json()["outcome"] == "processed"

    body = await me(alice)
    assert body["plan"] == {"code": "pro", "monthly_limit": 100}
    assert body["usage"]["limit"] == 100


async def test_the_customer_is_created_once_and_reused(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe, pg_db: Database
) -> None:
    alice = billing_client_for("alice")
    for _ in range(2):
        assert (await alice.post("/v1/billing/checkout", json={"plan": "pro"})).status_code == 200
    assert len(fake_stripe.customers) == 1
    assert fake_stripe.count("POST", "/v1/customers") == 1
    async with pg_db.transaction() as session:
        user = await session.get(User, (await me(alice))["id"])
        assert user is not None
        assert user.stripe_customer_id == next(iter(fake_stripe.customers))


async def test_unknown_plan_is_422(billing_client_for: ClientFactory) -> None:
    response = await billing_client_for("alice").post("/v1/billing/checkout", json={"plan": "gold"})
    assert response.status_code == 422
    assert "unknown plan" in response.json()["error"]["message"]


async def test_plan_without_price_is_422(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    response = await billing_client_for("alice").post("/v1/billing/checkout", json={"plan": "free"})
    assert response.status_code == 422
    assert "no Stripe price" in response.json()["error"]["message"]
    assert fake_stripe.requests == []


async def test_already_subscribed_is_409_pointing_at_the_portal(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    alice = billing_client_for("alice")
    await subscribe(alice, fake_stripe)

    response = await alice.post("/v1/billing/checkout", json={"plan": "pro"})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["portal_url"] == "/v1/billing/portal"
    assert len(fake_stripe.checkout_sessions) == 1


async def test_portal_without_customer_is_409_pointing_at_checkout(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    response = await billing_client_for("alice").post("/v1/billing/portal")
    assert response.status_code == 409
    assert response.json()["error"]["checkout_url"] == "/v1/billing/checkout"
    assert fake_stripe.requests == []


async def test_portal_for_a_customer_returns_to_the_account_page(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    alice = billing_client_for("alice")
    await subscribe(alice, fake_stripe)

    response = await alice.post("/v1/billing/portal")

    assert response.status_code == 200, response.text
    (portal,) = fake_stripe.portal_sessions.values()
    assert response.json()["url"] == portal["url"]
    assert portal["customer"] == next(iter(fake_stripe.customers))
    assert portal["return_url"] == f"{PUBLIC_URL}/account"


async def test_billing_needs_login(billing_client_for: ClientFactory) -> None:
    anonymous = billing_client_for(None)
    assert (await anonymous.post("/v1/billing/checkout", json={"plan": "pro"})).status_code == 401
    assert (await anonymous.post("/v1/billing/portal")).status_code == 401


async def test_without_stripe_configured_checkout_is_503(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/billing/checkout", json={"plan": "pro"})
    assert response.status_code == 503
    assert "VSTAGE_STRIPE_SECRET_KEY" in response.json()["error"]["message"]


async def test_success_url_carries_the_checkout_session_placeholder(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    await billing_client_for("alice").post("/v1/billing/checkout", json={"plan": "pro"})
    (session,) = fake_stripe.checkout_sessions.values()
    query = parse_qs(urlsplit(session["success_url"]).query)
    assert query["session_id"] == ["{CHECKOUT_SESSION_ID}"]


async def test_a_stripe_refusal_is_502_with_stripes_reason(
    billing_client_for: ClientFactory, fake_stripe: FakeStripe
) -> None:
    alice = billing_client_for("alice")
    await subscribe(alice, fake_stripe)
    fake_stripe.reset()  # Stripe no longer knows the customer

    response = await alice.post("/v1/billing/portal")

    assert response.status_code == 502
    assert "No such customer" in response.json()["error"]["message"]
