from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.app import ClientFactory


async def test_healthz_needs_no_login(client_for: ClientFactory) -> None:
    response = await client_for(None).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_database_and_storage(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text


async def test_readyz_is_503_when_storage_is_gone(
    client: httpx.AsyncClient, pg_settings: object
) -> None:
    root = Path(str(pg_settings.storage_url).removeprefix("file://"))
    if root.exists():
        for child in sorted(root.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        root.rmdir()
    root.parent.joinpath(root.name).write_text("not a directory")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "vstage_http_requests_total" in response.text
    assert "vstage_queue_oldest_queued_seconds" in response.text
