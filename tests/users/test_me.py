from __future__ import annotations

import httpx


async def test_me_creates_the_user_and_shows_free_plan_usage(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["auth0_sub"] == "alice"
    assert body["role"] == "user"
    assert body["plan"] == {"code": "free", "monthly_limit": 3}
    assert body["usage"]["used"] == 0
    assert body["usage"]["limit"] == 3
    assert body["usage"]["period_end"].startswith(("20",))
    again = (await client.get("/v1/me")).json()
    assert again["id"] == body["id"]
