"""Small steps the browser tests share (log in, create a project)."""

from __future__ import annotations

import base64
import re

from playwright.async_api import Page, expect
from tests.web.server import LiveApp


async def dev_login(page: Page, app: LiveApp, sub: str) -> None:
    await page.goto(app.url("/login"))
    await page.get_by_label("User id (optional)").fill(sub)
    await page.get_by_role("button", name="Dev login").click()
    await expect(page).to_have_url(re.compile(r"/projects$"))


async def create_project(page: Page, name: str) -> str:
    """Create a project from the projects page; return its page URL."""
    await page.get_by_label("Project name").fill(name)
    await page.get_by_role("button", name="New project").click()
    await expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}$"))
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    return page.url


async def drop_files(page: Page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drag and drop ``(name, mime, data)`` files onto ``selector``, as a person would
    from a file manager: one ``drop`` event whose DataTransfer carries real File objects."""
    payload = [
        {"name": name, "type": mime, "data": base64.b64encode(data).decode()}
        for name, mime, data in files
    ]
    transfer = await page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        payload,
    )
    target = page.locator(selector)
    await target.dispatch_event("dragenter", {"dataTransfer": transfer})
    await target.dispatch_event("dragover", {"dataTransfer": transfer})
    await target.dispatch_event("drop", {"dataTransfer": transfer})
