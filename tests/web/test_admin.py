"""Admin in the browser: a job that failed for good is listed with its error; the
operator fixes the cause (here: installs the missing model) and retries it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from tests.web.conftest import LiveAppFactory, screenshot
from tests.web.helpers import create_project, dev_login
from tests.web.room import room_jpeg

from vstage.auth.service import get_or_create_user
from vstage.models import Job
from vstage.users.service import set_role

pytestmark = pytest.mark.browser


async def test_admin_sees_failed_job_and_retries_it(
    page: Page, live_app: LiveAppFactory, tiny_model: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model-not-installed-yet"
    app = live_app(
        start_worker=True,
        model=str(model_dir),
        job_max_attempts=1,
        steps=2,
        work_size=128,
        drift_retries=0,
    )
    async with app.database().transaction() as session:
        await set_role(session, await get_or_create_user(session, "web|operator"), "admin")

    await dev_login(page, app, "web|customer")
    await create_project(page, "Failing listing")
    await page.get_by_label("Photos").set_input_files(
        files=[{"name": "room.jpg", "mimeType": "image/jpeg", "buffer": room_jpeg(640, 480)}]
    )
    card = page.locator("#image-grid [data-image-id]")
    await expect(card).to_have_attribute("data-status", "error", timeout=60_000)

    # A normal user gets the 403 page on admin routes.
    response = await page.goto(app.url("/admin/jobs"))
    assert response is not None
    assert response.status == 403

    await page.get_by_role("button", name="Log out").click()
    await dev_login(page, app, "web|operator")
    await page.get_by_role("link", name="Admin").click()
    await page.get_by_role("link", name="Jobs").click()
    row = page.locator('tr[data-job-status="failed"]')
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("model")
    await screenshot(page, "admin-failed-job")

    shutil.copytree(tiny_model, model_dir)  # the operator installs the model...
    await row.get_by_role("button", name="Retry").click()  # ...and retries
    await expect(page.get_by_role("status")).to_contain_text("requeued")
    async with app.database().transaction() as session:
        job = await session.scalar(select(Job))
    assert job is not None
    assert job.status in {"queued", "processing", "completed"}

    for _ in range(300):  # the retried job now runs (bounded wait: 60 s)
        async with app.database().transaction() as session:
            job = await session.scalar(select(Job))
        assert job is not None
        if job.status == "completed":
            break
        await asyncio.sleep(0.2)
    await page.get_by_label("Status").select_option("completed")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator('tr[data-job-status="completed"]')).to_have_count(1)
