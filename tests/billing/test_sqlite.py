"""Embedded mode (SQLite) bills the same way as PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.billing.flows import me, subscribe
from tests.fixtures.app import dev_auth
from tests.fixtures.db import make_settings
from tests.fixtures.stripe import API_KEY, PRO_PRICE, WEBHOOK_SECRET, FakeStripe, deliver
from vstage.app import create_app
from vstage.config import Settings
from vstage.db import Database
from vstage.plans.service import set_plan


async def test_checkout_webhook_and_duplicates_on_sqlite(
    sqlite_settings: Settings, tmp_path: Path, fake_stripe: FakeStripe
) -> None:
    settings = make_settings(
        sqlite_settings.database_url,
        tmp_path,
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.base_url,
    )
    db = Database(settings)
    async with db.transaction() as session:
        await set_plan(session, "pro", price_id=PRO_PRICE)
    app = create_app(settings, database=db, start_worker=False)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test",
                headers=dev_auth("alice"),
            ) as alice,
        ):
            sub_id = await subscribe(alice, fake_stripe)
            event = fake_stripe.event("invoice.paid", fake_stripe.invoice(sub_id, paid=True))
            assert (await deliver(alice, event)).json()["outcome"] == "processed"
            assert (await deliver(alice, event)).json()["outcome"] == "duplicate"
            assert (await me(alice))["plan"] == {"code": "pro", "monthly_limit": 100}
    finally:
        await db.dispose()
