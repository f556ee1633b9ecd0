"""The pages fit a 375 px wide phone screen and keep working there."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from tests.web.conftest import LiveAppFactory, screenshot
from tests.web.helpers import create_project, dev_login

pytestmark = pytest.mark.browser


async def _fits(page: Page) -> None:
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at 375px"


async def test_pages_fit_a_phone(page: Page, live_app: LiveAppFactory) -> None:
    app = live_app()
    await page.set_viewport_size({"width": 375, "height": 812})
    await page.goto(app.url("/login"))
    await _fits(page)
    await dev_login(page, app, "web|phone")
    await expect(page.get_by_text("No projects yet")).to_be_visible()
    await _fits(page)
    project_url = await create_project(page, "A rather long project name for a small screen")
    await _fits(page)
    await expect(page.get_by_label("Photos")).to_be_attached()
    await expect(page.get_by_label("Room type")).to_be_visible()
    await screenshot(page, "project-page-375px", full_page=True)
    for path in ("/projects", "/account", "/no-such-page"):
        await page.goto(app.url(path))
        await _fits(page)
    await page.goto(project_url + "/delete")
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("A rather long project name")).to_have_count(0)
