"""Over quota in the browser: the upload shows the 402 message and an "Upgrade" button
that leads to (the fake) Stripe Checkout."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from tests.fixtures.stripe import API_KEY, PRO_PRICE, WEBHOOK_SECRET, FakeStripe
from tests.web.conftest import LiveAppFactory, screenshot
from tests.web.helpers import create_project, dev_login
from tests.web.room import room_jpeg

from vstage.plans.service import set_plan

pytestmark = pytest.mark.browser


async def test_over_quota_upload_offers_upgrade_to_checkout(
    page: Page, live_app: LiveAppFactory, fake_stripe: FakeStripe
) -> None:
    app = live_app(
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.base_url,
    )
    async with app.database().transaction() as session:
        await set_plan(session, "free", limit=0)
        await set_plan(session, "pro", price_id=PRO_PRICE)

    await dev_login(page, app, "web|frugal")
    await create_project(page, "Over the limit")
    await page.get_by_label("Photos").set_input_files(
        files=[{"name": "room.jpg", "mimeType": "image/jpeg", "buffer": room_jpeg(800, 600)}]
    )
    row = page.locator(".upload-row", has_text="room.jpg")
    await expect(row).to_have_class(re.compile(r"failed"))
    await expect(row.get_by_role("alert")).to_contain_text("Plan limit reached")
    await expect(row).to_contain_text("monthly limit of 0 images on the free plan reached")
    await expect(page.locator("#image-grid [data-image-id]")).to_have_count(0)
    await screenshot(page, "over-quota-upload", full_page=True)

    await row.get_by_role("button", name="Upgrade").click()
    await expect(page).to_have_url(re.compile(re.escape(fake_stripe.base_url) + r"/c/pay/cs_test"))
    [checkout] = fake_stripe.checkout_sessions.values()
    assert checkout["_price"] == PRO_PRICE
    assert checkout["success_url"].startswith(app.url("/account?checkout=success"))


async def test_account_page_usage_upgrade_and_manage_billing(
    page: Page, live_app: LiveAppFactory, fake_stripe: FakeStripe
) -> None:
    app = live_app(
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.base_url,
    )
    async with app.database().transaction() as session:
        await set_plan(session, "pro", price_id=PRO_PRICE)
    await dev_login(page, app, "web|account-owner")
    await page.get_by_role("link", name="Account").click()
    await expect(page.get_by_role("heading", name="Plan: Free")).to_be_visible()
    await expect(page.locator("[data-usage]")).to_have_text("0 / 3")
    await expect(page.locator("meter#usage-meter")).to_have_attribute("max", "3")

    # No Stripe customer yet: the portal cannot open, the page says what to do.
    await page.get_by_role("button", name="Manage billing").click()
    await expect(page.get_by_role("alert")).to_contain_text("no billing account yet")
    await screenshot(page, "account-page", full_page=True)

    await page.get_by_role("button", name="Upgrade").click()
    await expect(page).to_have_url(re.compile(re.escape(fake_stripe.base_url) + r"/c/pay/"))
    await page.goto(app.url("/account"))
    await page.get_by_role("button", name="Manage billing").click()
    await expect(page).to_have_url(re.compile(re.escape(fake_stripe.base_url) + r"/p/session/"))
