"""Browser-test fixtures: Debian's Chromium driven by Playwright, and live app servers.

Chromium is the system package (``scripts/ensure-services.sh`` installs it); Playwright
never downloads a browser. Every test's page is screenshotted into ``artifacts/web/``
at teardown, pass or fail, so a failure can be looked at.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from tests.web.forms import HTML
from tests.web.server import LiveApp, start_live_app

CHROMIUM = os.environ.get("VSTAGE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"

LiveAppFactory = Callable[..., LiveApp]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} missing: run scripts/ensure-services.sh (apt-get install chromium)"
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def _artifact_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    page = await context.new_page()
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # A crashed page must not hide the test's own failure.
        with contextlib.suppress(Exception):
            await page.screenshot(path=ARTIFACTS / f"{_artifact_name(request)}.png", full_page=True)


async def screenshot(page: Page, name: str, **kwargs: Any) -> Path:
    """Save a named screenshot under ``artifacts/web/`` (tests call this at key steps)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=path, **kwargs)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random diffusers pipeline written by the engine's own helper."""
    from vstage.staging.tiny import make_tiny_pipeline

    return make_tiny_pipeline(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
async def live_app(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[LiveAppFactory]:
    """``live_app(start_worker=..., **settings)`` serves the app; stopped after the test."""
    started: list[LiveApp] = []

    def start(*, start_worker: bool = False, **overrides: Any) -> LiveApp:
        folder = tmp_path / f"app{len(started)}"
        folder.mkdir()
        app = start_live_app(sqlite_template, folder, start_worker=start_worker, **overrides)
        started.append(app)
        return app

    yield start
    for app in started:
        await app.stop()


@pytest.fixture
async def browser_client(sqlite_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client that asks for HTML, as a browser does (no JavaScript)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sqlite_app), base_url="http://test", headers=HTML
    ) as client:
        yield client
