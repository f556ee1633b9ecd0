"""Only recent events signed with our endpoint secret get in; anything else is 400 and
leaves no trace (DESIGN §4)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import stripe

from tests.billing.flows import count_rows
from tests.fixtures.app import ClientFactory
from tests.fixtures.stripe import WEBHOOK_SECRET, FakeStripe, deliver, sign
from vstage.db import Database
from vstage.models import StripeEvent, Subscription


@pytest.fixture
def event(fake_stripe: FakeStripe) -> dict[str, object]:
    sub = fake_stripe.create_subscription("cus_unknown")
    return fake_stripe.event("customer.subscription.created", sub)


def test_signatures_come_from_the_stripe_librarys_own_scheme() -> None:
    payload = '{"id": "evt_1"}'
    header = sign(payload, timestamp=int(time.time()))
    assert stripe.WebhookSignature.verify_header(payload, header, WEBHOOK_SECRET, tolerance=300)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("wrong secret", {"secret": "whsec_someone_else"}),
        ("stale timestamp", {"timestamp": int(time.time()) - 301}),
        ("missing header", {"signature": ""}),
        ("garbage header", {"signature": "t=abc,v1=zz"}),
        ("no v1 signature", {"signature": f"t={int(time.time())},v0=deadbeef"}),
    ],
)
async def test_unverifiable_deliveries_are_400_and_store_nothing(
    billing_client_for: ClientFactory,
    pg_db: Database,
    fake_stripe: FakeStripe,
    event: dict[str, object],
    case: str,
    kwargs: dict[str, object],
) -> None:
    response = await deliver(billing_client_for(None), event, **kwargs)  # type: ignore[arg-type]

    assert response.status_code == 400, case
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await count_rows(pg_db, StripeEvent) == 0
    assert await count_rows(pg_db, Subscription) == 0
    assert fake_stripe.count("GET", f"/v1/subscriptions/{event['data']['object']['id']}") == 0  # type: ignore[index]


async def test_a_tampered_body_is_400(
    billing_client_for: ClientFactory, pg_db: Database, event: dict[str, object]
) -> None:
    payload = json.dumps(event)
    header = sign(payload)
    tampered = payload.replace("active", "trialing")
    response = await billing_client_for(None).post(
        "/v1/billing/webhook", content=tampered, headers={"Stripe-Signature": header}
    )
    assert response.status_code == 400
    assert await count_rows(pg_db, StripeEvent) == 0


async def test_a_fresh_signature_within_tolerance_is_accepted(
    billing_client_for: ClientFactory, event: dict[str, object]
) -> None:
    response = await deliver(billing_client_for(None), event, timestamp=int(time.time()) - 290)
    assert response.status_code == 200


async def test_without_a_webhook_secret_the_endpoint_is_503(
    client: httpx.AsyncClient, event: dict[str, object]
) -> None:
    response = await deliver(client, event)
    assert response.status_code == 503
    assert "VSTAGE_STRIPE_WEBHOOK_SECRET" in response.json()["error"]["message"]


async def test_unhandled_event_types_are_acknowledged_and_ignored(
    billing_client_for: ClientFactory, pg_db: Database, fake_stripe: FakeStripe
) -> None:
    response = await deliver(
        billing_client_for(None), fake_stripe.event("customer.created", {"id": "cus_x"})
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert await count_rows(pg_db, StripeEvent) == 0
