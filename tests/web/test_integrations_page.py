"""Account → API keys and webhooks, over HTTP with the CSRF token (no browser)."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select
from tests.web.forms import HTML, dev_login

from vstage.db import Database
from vstage.models import WebhookDelivery

PAGE = "/account/integrations"
PUBLIC_URL = "https://93.184.216.34/hooks/vstage"  # an IP literal: no DNS lookup


def _shown(html: str, input_id: str) -> str:
    match = re.search(rf'id="{input_id}" readonly value="([^"]+)"', html)
    assert match, f"{input_id} not on the page"
    return match.group(1)


async def test_account_page_links_here(browser_client: httpx.AsyncClient) -> None:
    await dev_login(browser_client, "integrations|alice")
    html = (await browser_client.get("/account")).text
    assert f'<a href="{PAGE}">API keys and webhooks</a>' in html


async def test_api_key_is_shown_once_authenticates_and_can_be_revoked(
    browser_client: httpx.AsyncClient,
) -> None:
    token = await dev_login(browser_client, "integrations|alice")
    response = await browser_client.post(
        "/account/api-keys", data={"csrf_token": token, "name": "CI"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    key = _shown(response.text, "new-api-key")
    assert key.startswith("vst_")

    later = (await browser_client.get(PAGE)).text
    assert key not in later
    assert f"{key[:8]}…{key[-4:]}" in later
    assert "Create API key" in later

    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="http://test"
    ) as api:
        me = await api.get("/v1/me", headers={"authorization": f"Bearer {key}"})
        assert me.status_code == 200
        key_id = re.search(r'data-key-id="([^"]+)"', later)
        assert key_id
        revoke = await browser_client.post(
            f"/account/api-keys/{key_id.group(1)}/revoke", data={"csrf_token": token}
        )
        assert revoke.status_code == 303
        assert revoke.headers["location"] == PAGE
        me = await api.get("/v1/me", headers={"authorization": f"Bearer {key}"})
        assert me.status_code == 401
    assert "revoked" in (await browser_client.get(PAGE)).text


async def test_invalid_key_name_is_shown_inline(browser_client: httpx.AsyncClient) -> None:
    token = await dev_login(browser_client, "integrations|alice")
    response = await browser_client.post(
        "/account/api-keys", data={"csrf_token": token, "name": "  "}
    )
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert 'id="api-key-error"' in response.text


async def test_webhook_secret_shown_once_and_test_event_queues_a_delivery(
    browser_client: httpx.AsyncClient, sqlite_db: Database
) -> None:
    token = await dev_login(browser_client, "integrations|alice")
    response = await browser_client.post(
        "/account/webhooks",
        data={"csrf_token": token, "url": PUBLIC_URL, "events": ["image.ready", "image.failed"]},
    )
    assert response.status_code == 200, response.text
    secret = _shown(response.text, "new-webhook-secret")
    page = (await browser_client.get(PAGE)).text
    assert secret not in page
    assert PUBLIC_URL in page
    assert "image.ready, image.failed" in page
    match = re.search(r'data-endpoint-id="([^"]+)"', page)
    assert match
    endpoint_id = match.group(1)

    sent = await browser_client.post(
        f"/account/webhooks/{endpoint_id}/test", data={"csrf_token": token}
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(f"{PAGE}?sent=")
    async with sqlite_db.transaction() as session:
        deliveries = (
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id))
            )
        ).all()
    assert len(deliveries) == 1
    assert deliveries[0].event_id in sent.headers["location"]
    assert "Send test event" in (await browser_client.get(sent.headers["location"])).text

    deleted = await browser_client.post(
        f"/account/webhooks/{endpoint_id}/delete", data={"csrf_token": token}
    )
    assert deleted.status_code == 303
    assert PUBLIC_URL not in (await browser_client.get(PAGE)).text


async def test_unsafe_webhook_url_is_an_inline_error(browser_client: httpx.AsyncClient) -> None:
    token = await dev_login(browser_client, "integrations|alice")
    response = await browser_client.post(
        "/account/webhooks",
        data={"csrf_token": token, "url": "https://10.0.0.1/hook", "events": "image.ready"},
    )
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert 'id="webhook-error"' in response.text
    assert "not a public address" in response.text
    assert 'data-endpoint-id="' not in response.text


async def test_another_users_key_or_endpoint_is_a_404_page(
    browser_client: httpx.AsyncClient,
) -> None:
    token = await dev_login(browser_client, "integrations|alice")
    await browser_client.post("/account/api-keys", data={"csrf_token": token, "name": "mine"})
    await browser_client.post(
        "/account/webhooks",
        data={"csrf_token": token, "url": PUBLIC_URL, "events": "image.ready"},
    )
    page = (await browser_client.get(PAGE)).text
    key_id = re.search(r'data-key-id="([^"]+)"', page)
    endpoint_id = re.search(r'data-endpoint-id="([^"]+)"', page)
    assert key_id
    assert endpoint_id

    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="http://test", headers=HTML
    ) as other:
        other_token = await dev_login(other, "integrations|mallory")
        for path in (
            f"/account/api-keys/{key_id.group(1)}/revoke",
            f"/account/webhooks/{endpoint_id.group(1)}/test",
            f"/account/webhooks/{endpoint_id.group(1)}/delete",
        ):
            response = await other.post(path, data={"csrf_token": other_token})
            assert response.status_code == 404, path
            assert "text/html" in response.headers["content-type"]
    assert "revoked" not in (await browser_client.get(PAGE)).text


async def test_forms_need_the_csrf_token(browser_client: httpx.AsyncClient) -> None:
    await dev_login(browser_client, "integrations|alice")
    for path, data in (
        ("/account/api-keys", {"name": "x"}),
        ("/account/webhooks", {"url": PUBLIC_URL, "events": "image.ready"}),
        ("/account/api-keys/00000000-0000-0000-0000-000000000000/revoke", {}),
        ("/account/webhooks/00000000-0000-0000-0000-000000000000/test", {}),
        ("/account/webhooks/00000000-0000-0000-0000-000000000000/delete", {}),
    ):
        response = await browser_client.post(path, data=data)
        assert response.status_code == 403, path
    assert "data-key-id" not in (await browser_client.get(PAGE)).text
