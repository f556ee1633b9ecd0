"""Every error, expected or not, is ``{"error": {"code", "message"}}`` and never a traceback."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import ClientFactory


async def test_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_wrong_method_is_405_json(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/projects")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_invalid_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/projects", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


async def test_json_body_over_one_mib_is_413(client: httpx.AsyncClient) -> None:
    huge = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await client.post(
        "/v1/projects", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_streamed_json_body_over_limit_without_length_is_413(
    client: httpx.AsyncClient,
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * (64 * 1024)

    response = await client.post(
        "/v1/projects", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_unexpected_errors_are_500_without_traceback(
    app: FastAPI, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://test"
    )
    response = await client.get("/boom")
    await client.aclose()
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert len(response.headers["x-request-id"]) >= 16
    echoed = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
