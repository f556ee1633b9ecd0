"""``vstage billing sync USER`` repairs a user's plan when webhooks were lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from tests.billing.flows import stored_subscription
from tests.factories import make_user
from tests.fixtures.stripe import API_KEY, PRO_PRICE, FakeStripe
from vstage.billing.entitlement import get_entitlement
from vstage.cli import app
from vstage.config import get_settings
from vstage.db import Database
from vstage.errors import NotFound
from vstage.models import User
from vstage.plans.service import set_plan


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, pg_url: str, fake_stripe: FakeStripe
) -> Iterator[None]:
    monkeypatch.setenv("VSTAGE_DATABASE_URL", pg_url)
    monkeypatch.setenv("VSTAGE_ALLOW_DEV_AUTH", "1")
    monkeypatch.setenv("VSTAGE_STRIPE_SECRET_KEY", API_KEY)
    monkeypatch.setenv("VSTAGE_STRIPE_API_BASE", fake_stripe.base_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def vstage(*args: str) -> Result:
    """Run the CLI in-process, in a thread (it runs its own event loop)."""

    def invoke() -> Result:
        return CliRunner().invoke(app, list(args))

    return await asyncio.to_thread(invoke)


async def customer_user(db: Database, sub: str, customer_id: str | None) -> User:
    async with db.transaction() as session:
        await set_plan(session, "pro", price_id=PRO_PRICE)
        user = await make_user(session, sub)
        user.stripe_customer_id = customer_id
        return user


@pytest.mark.usefixtures("cli_env")
async def test_sync_writes_the_subscriptions_stripe_has(
    pg_committed_db: Database, fake_stripe: FakeStripe
) -> None:
    customer = fake_stripe.create_customer()
    user = await customer_user(pg_committed_db, "auth0|lost-webhooks", customer["id"])
    active = fake_stripe.create_subscription(customer["id"])
    old = fake_stripe.create_subscription(customer["id"], status="canceled")

    result = await vstage("billing", "sync", "auth0|lost-webhooks")

    assert result.exit_code == 0, result.output
    assert f"{active['id']}\tactive" in result.output
    assert f"{old['id']}\tcanceled" in result.output
    assert "plan=pro\tlimit=100" in result.output
    stored = await stored_subscription(pg_committed_db, active["id"])
    assert stored is not None
    assert (stored.user_id, stored.status) == (user.id, "active")
    async with pg_committed_db.transaction() as session:
        ent = await get_entitlement(session, user, grace_days=3)
    assert ent.plan_code == "pro"


@pytest.mark.usefixtures("cli_env")
async def test_sync_by_user_id_follows_stripe_back_to_free(
    pg_committed_db: Database, fake_stripe: FakeStripe
) -> None:
    customer = fake_stripe.create_customer()
    user = await customer_user(pg_committed_db, "auth0|churned", customer["id"])
    sub = fake_stripe.create_subscription(customer["id"])
    assert (await vstage("billing", "sync", str(user.id))).exit_code == 0

    fake_stripe.update_subscription(sub["id"], status="canceled")
    result = await vstage("billing", "sync", str(user.id))

    assert result.exit_code == 0, result.output
    assert "plan=free" in result.output


@pytest.mark.usefixtures("cli_env")
async def test_sync_of_a_user_without_customer_has_nothing_to_do(
    pg_committed_db: Database, fake_stripe: FakeStripe
) -> None:
    await customer_user(pg_committed_db, "auth0|never-paid", None)
    result = await vstage("billing", "sync", "auth0|never-paid")
    assert result.exit_code == 0, result.output
    assert "no Stripe customer" in result.output
    assert fake_stripe.requests == []


@pytest.mark.usefixtures("cli_env")
async def test_sync_of_an_unknown_user_fails(pg_committed_db: Database) -> None:
    result = await vstage("billing", "sync", "auth0|nobody")
    assert result.exit_code != 0
    assert isinstance(result.exception, NotFound)
