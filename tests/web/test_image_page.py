"""The image page without the diffusion engine: the test plays the worker by writing
job progress and the finished result, so every state of the page is shown exactly when
expected (the engine itself runs in test_staging.py)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select, update
from tests.web.conftest import LiveAppFactory, screenshot
from tests.web.helpers import create_project, dev_login, drop_files
from tests.web.room import room_jpeg

from vstage.models import Image, ImageStatus, Job
from vstage.plans.service import set_plan
from vstage.storage import make_storage

pytestmark = pytest.mark.browser


async def test_image_page_follows_status_and_restages(page: Page, live_app: LiveAppFactory) -> None:
    app = live_app()  # no worker: this test moves the job along itself
    db = app.database()
    async with db.transaction() as session:
        await set_plan(session, "free", limit=3)
    await dev_login(page, app, "web|page-viewer")
    await create_project(page, "Status walk")
    await drop_files(page, "[data-dropzone]", [("a.jpg", "image/jpeg", room_jpeg(900, 600))])
    card = page.locator("#image-grid [data-image-id]")
    await expect(card).to_have_attribute("data-status", "queued")

    storage = make_storage(app.settings)
    try:
        async with db.transaction() as session:
            image = await session.scalar(select(Image))
            assert image is not None
            staged_key = image.original_url.replace("original.jpg", "staged.jpg")
            await storage.put(staged_key, await storage.get(image.original_url), "image/jpeg")
            progress = {"step": 3, "total": 10, "fraction": 0.3}
            await session.execute(update(Job).values(status="processing", progress_json=progress))
            await session.execute(update(Image).values(status=ImageStatus.processing))
    finally:
        await storage.close()

    # The grid card and then the image page follow the status without a reload.
    await expect(card).to_have_attribute("data-status", "processing")
    await expect(card).to_contain_text("step 3 of 10")
    await card.get_by_role("link").click()
    status = page.locator("#image-status")
    await expect(status).to_have_attribute("data-status", "processing")
    await expect(page.get_by_role("link", name="Download")).to_have_count(0)
    async with db.transaction() as session:
        await session.execute(update(Image).values(status=ImageStatus.ready, staged_url=staged_key))
    await expect(page.locator("img-comparison-slider")).to_be_visible()
    await expect(page.get_by_role("link", name="Download", exact=True)).to_be_visible()

    # New variation: same photo and style, new seed; restage: another style.
    await page.get_by_role("button", name="New variation").click()
    await expect(page.locator("#image-status")).to_have_attribute("data-status", "queued")
    await page.get_by_text("Restage with another style").click()
    await page.get_by_label("Style", exact=True).select_option("industrial")
    await page.get_by_role("button", name="Restage").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Industrial")
    await expect(page.locator(".variations a[data-image-id]")).to_have_count(3)
    await expect(page.locator('.variations a[aria-current="page"]')).to_have_count(1)
    await screenshot(page, "image-page-variations", full_page=True)

    # The plan's 3 images are used: the next variation is refused with an Upgrade button.
    await page.get_by_role("button", name="New variation").click()
    await expect(page.get_by_role("alert")).to_contain_text("Plan limit reached")
    await expect(page.get_by_role("button", name="Upgrade")).to_be_visible()
    await expect(page.locator(".variations a[data-image-id]")).to_have_count(3)

    # Delete (with confirmation) goes back to the project, one card fewer.
    await page.get_by_role("link", name="Delete").click()
    await expect(page.get_by_role("heading", name="Delete this image?")).to_be_visible()
    await page.get_by_role("button", name="Delete").click()
    await expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}$"))
    await expect(page.locator("#image-grid [data-image-id]")).to_have_count(2)
