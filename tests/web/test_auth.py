"""Login in the browser: dev login, Auth0 universal login (OIDC code + PKCE), isolation."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from tests.fixtures.auth0 import OIDCProvider
from tests.web.conftest import LiveAppFactory, screenshot
from tests.web.helpers import create_project, dev_login

from vstage.models import User

pytestmark = pytest.mark.browser


async def test_other_users_project_is_a_404_page(page: Page, live_app: LiveAppFactory) -> None:
    app = live_app()
    await dev_login(page, app, "web|alice")
    project_url = await create_project(page, "Alice's listing")

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await dev_login(page, app, "web|bob")
    response = await page.goto(project_url)
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="We couldn't find that page")).to_be_visible()
    await expect(page.get_by_text("Alice's listing")).to_have_count(0)
    await screenshot(page, "other-users-project-404")


async def test_pages_need_login(page: Page, live_app: LiveAppFactory) -> None:
    app = live_app()
    await page.goto(app.url("/account"))
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    await expect(page.get_by_role("button", name="Dev login")).to_be_visible()


async def test_oidc_login_creates_the_user(
    page: Page, live_app: LiveAppFactory, oidc_provider: OIDCProvider
) -> None:
    app = live_app(settings=oidc_provider.settings())
    sub = "auth0|web-oidc-user"
    with oidc_provider.login_as(sub, email="oidc.user@example.com", email_verified=True):
        await page.goto(app.url("/projects"))
        await expect(page).to_have_url(re.compile(r"/login"))
        await expect(page.get_by_role("button", name="Dev login")).to_have_count(0)
        await page.get_by_role("button", name="Log in").click()
        await expect(page).to_have_url(app.url("/projects"))

    authorize = oidc_provider.authorize_requests[-1]
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["state"]
    assert authorize["nonce"]
    assert authorize["code_challenge"]
    assert authorize["redirect_uri"] == app.url("/auth/callback")
    await expect(page.get_by_role("heading", name="Your projects")).to_be_visible()

    async with app.database().transaction() as session:
        user = await session.scalar(select(User).where(User.auth0_sub == sub))
    assert user is not None
    assert user.email == "oidc.user@example.com"

    cookies = {c["name"]: c for c in await page.context.cookies()}
    session_cookie = cookies["vstage_session"]
    assert session_cookie["httpOnly"]
    assert session_cookie["sameSite"] == "Lax"

    await page.get_by_role("button", name="Log out").click()
    logout = oidc_provider.logouts[-1]
    assert logout["client_id"] == oidc_provider.client_id
    assert logout["returnTo"] == app.url("/login")
    await expect(page).to_have_url(re.compile(r"/login$"))
    assert "vstage_session" not in {c["name"] for c in await page.context.cookies()}
    assert parse_qs(urlsplit(page.url).query) == {}
