"""HTTP-level steps for web tests that need no browser: the CSRF token and dev login."""

from __future__ import annotations

import re

import httpx

HTML = {"accept": "text/html,application/xhtml+xml"}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def dev_login(client: httpx.AsyncClient, sub: str) -> str:
    """Log ``client`` in as ``sub`` through the dev-login form; return its CSRF token."""
    token = csrf_token((await client.get("/login")).text)
    response = await client.post("/auth/dev-login", data={"csrf_token": token, "sub": sub})
    assert response.status_code == 303
    return token
