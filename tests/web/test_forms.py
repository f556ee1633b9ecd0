"""The web UI's HTTP contract without a browser: CSRF, login redirects, error pages
that are HTML for browsers and JSON for the API, cookie flags."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from tests.web.forms import HTML, csrf_token, dev_login

from vstage.auth.service import get_or_create_user
from vstage.db import Database
from vstage.models import User


async def test_pages_redirect_to_login(browser_client: httpx.AsyncClient) -> None:
    response = await browser_client.get("/projects/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fprojects%2F")


async def test_htmx_requests_get_a_redirect_header(browser_client: httpx.AsyncClient) -> None:
    response = await browser_client.get("/account", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=%2Faccount"


async def test_forms_refuse_a_missing_or_forged_csrf_token(
    browser_client: httpx.AsyncClient,
) -> None:
    token = await dev_login(browser_client, "forms|alice")
    for data in ({"name": "x"}, {"name": "x", "csrf_token": "forged"}):
        response = await browser_client.post("/projects", data=data)
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
    # A token from another browser (another cookie) does not match this one's cookie.
    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="http://test", headers=HTML
    ) as other:
        foreign = csrf_token((await other.get("/login")).text)
    assert foreign != token
    response = await browser_client.post("/projects", data={"name": "x", "csrf_token": foreign})
    assert response.status_code == 403
    response = await browser_client.post("/projects", data={"name": "x", "csrf_token": token})
    assert response.status_code == 303
    # htmx and upload requests send the token in a header instead.
    response = await browser_client.post(
        "/projects", data={"name": "y"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 303


async def test_dev_login_sets_a_safe_session_cookie(browser_client: httpx.AsyncClient) -> None:
    token = csrf_token((await browser_client.get("/login")).text)
    response = await browser_client.post(
        "/auth/dev-login",
        data={"csrf_token": token, "sub": "forms|bob", "next": "https://evil.example/"},
    )
    assert response.headers["location"] == "/projects"  # no open redirect
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("vstage_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # embedded mode (SQLite) serves plain http locally


async def test_errors_are_pages_for_browsers_and_json_for_the_api(
    browser_client: httpx.AsyncClient,
) -> None:
    await dev_login(browser_client, "forms|carol")
    page = await browser_client.get("/projects/00000000-0000-0000-0000-000000000000")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "find that page" in page.text
    api = await browser_client.get("/v1/projects/00000000-0000-0000-0000-000000000000")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    plain = await browser_client.get("/nowhere", headers={"accept": "application/json"})
    assert plain.json()["error"]["code"] == "not_found"
    admin = await browser_client.get("/admin/users")
    assert admin.status_code == 403
    assert "do that" in admin.text


async def test_upload_needs_the_csrf_header_or_field(browser_client: httpx.AsyncClient) -> None:
    token = await dev_login(browser_client, "forms|dave")
    created = await browser_client.post("/projects", data={"name": "p", "csrf_token": token})
    project = created.headers["location"].rsplit("/", 1)[-1]
    response = await browser_client.post(
        f"/projects/{project}/upload",
        files={"file": ("a.jpg", b"not really", "image/jpeg")},
        data={"room_type": "bedroom", "style": "modern"},
        headers={"X-CSRF-Token": "forged", "HX-Request": "true"},
    )
    assert response.status_code == 403
    response = await browser_client.post(
        f"/projects/{project}/upload",
        files={"file": ("a.gif", b"GIF89a" + b"\0" * 64, "image/gif")},
        data={"room_type": "bedroom", "style": "modern", "seed": ""},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 415
    assert "Not a supported photo" in response.text


async def test_static_assets_are_served_locally(browser_client: httpx.AsyncClient) -> None:
    for path in (
        "/static/vendor/htmx.min.js",
        "/static/vendor/pico.classless.min.css",
        "/static/vendor/img-comparison-slider.js",
        "/static/app.js",
    ):
        assert (await browser_client.get(path)).status_code == 200
    login = (await browser_client.get("/login")).text
    assert "https://" not in re.sub(r'href="https://[^"]*"', "", login)  # no CDN


async def test_admin_changes_a_role_from_the_users_page(
    browser_client: httpx.AsyncClient, sqlite_db: Database
) -> None:
    async with sqlite_db.transaction() as session:
        admin = await get_or_create_user(session, "forms|admin")
        admin.role = "admin"
        member = await get_or_create_user(session, "forms|member")
    token = await dev_login(browser_client, "forms|admin")
    page = await browser_client.get("/admin/users")
    assert "forms|member" in page.text
    response = await browser_client.post(
        f"/admin/users/{member.id}/role", data={"csrf_token": token, "role": "admin"}
    )
    assert response.status_code == 303
    async with sqlite_db.transaction() as session:
        assert (await session.get(User, member.id)).role == "admin"  # type: ignore[union-attr]
    # The last admin cannot step down; the page says why instead of failing.
    async with sqlite_db.transaction() as session:
        (await session.get(User, member.id)).role = "user"  # type: ignore[union-attr]
    response = await browser_client.post(
        f"/admin/users/{admin.id}/role", data={"csrf_token": token, "role": "user"}
    )
    assert "refused=" in response.headers["location"]
    assert "last admin" in (await browser_client.get(response.headers["location"])).text


async def test_unexpected_errors_are_a_friendly_page(sqlite_app: FastAPI) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals")

    sqlite_app.add_api_route("/boom-for-test", boom)
    sqlite_app.add_api_route("/v1/boom-for-test", boom)
    transport = httpx.ASGITransport(app=sqlite_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/boom-for-test", headers=HTML)
        api = await client.get("/v1/boom-for-test", headers=HTML)
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text
    assert "secret internals" not in page.text
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "internal_error"
