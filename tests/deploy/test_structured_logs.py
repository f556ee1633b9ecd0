"""``VSTAGE_LOG_FORMAT=json`` gives log pipelines one JSON object per line, with ids.

Operators ship container logs to Loki/Elasticsearch/CloudWatch and search them by
request id (the ``X-Request-ID`` a client saw) or job id. These tests pin that
contract: every record is a single line of JSON with ``ts``, ``level``, ``logger`` and
``msg``; lines logged while serving a request carry its ``request_id``; lines logged
while running a job carry its ``job_id``; access lines add method, path, status and
duration.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vstage.observability.logging import configure_logging, job_id_var, request_id_var
from vstage.observability.middleware import RequestContextMiddleware


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Root logging configured as production does it, writing into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("json", "INFO")
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    """vstage's records (the test HTTP client logs its own lines too)."""
    lines = buffer.getvalue().splitlines()
    assert lines, "nothing was logged"
    parsed = [json.loads(line) for line in lines]  # every line is one whole JSON object
    assert all(isinstance(entry, dict) for entry in parsed)
    return [entry for entry in parsed if entry["logger"].startswith("vstage")]


def test_every_record_is_one_json_line_with_the_core_fields(json_log: io.StringIO) -> None:
    logging.getLogger("vstage.test").warning("disk %s is %d%% full", "/data", 91)

    (entry,) = records(json_log)
    assert entry["level"] == "warning"
    assert entry["logger"] == "vstage.test"
    assert entry["msg"] == "disk /data is 91% full"
    assert datetime.fromisoformat(entry["ts"]).utcoffset() is not None  # timezone-aware


def test_a_traceback_stays_inside_its_record(json_log: io.StringIO) -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("vstage.test").exception("job crashed")

    (entry,) = records(json_log)  # one line, although the traceback has many
    assert entry["msg"] == "job crashed"
    assert "RuntimeError: boom" in entry["exc"]


def test_lines_logged_while_running_a_job_carry_its_id(json_log: io.StringIO) -> None:
    token = job_id_var.set("5f0c1d8e-job")
    try:
        logging.getLogger("vstage.worker").info("rendering")
    finally:
        job_id_var.reset(token)
    logging.getLogger("vstage.worker").info("idle")

    during, after = records(json_log)
    assert during["job_id"] == "5f0c1d8e-job"
    assert "job_id" not in after
    assert "request_id" not in during


def _app() -> RequestContextMiddleware:
    async def hello(request: Request) -> PlainTextResponse:
        logging.getLogger("vstage.test").info("handling %s", request.url.path)
        return PlainTextResponse("hi")

    return RequestContextMiddleware(Starlette(routes=[Route("/hello/{name}", hello)]))


def test_request_lines_carry_the_request_id_the_client_got(json_log: io.StringIO) -> None:
    with TestClient(_app()) as client:
        response = client.get("/hello/world")

    request_id = response.headers["x-request-id"]
    handler_line, access_line = records(json_log)
    assert handler_line["request_id"] == request_id
    assert handler_line["msg"] == "handling /hello/world"
    assert access_line["request_id"] == request_id
    assert access_line["logger"] == "vstage.access"
    assert access_line["method"] == "GET"
    assert access_line["path"] == "/hello/world"
    assert access_line["status"] == 200
    assert isinstance(access_line["duration_ms"], int | float)
    assert request_id_var.get() is None  # nothing leaks past the request


def test_an_incoming_request_id_is_kept_end_to_end(json_log: io.StringIO) -> None:
    with TestClient(_app()) as client:
        response = client.get("/hello/proxy", headers={"X-Request-ID": "lb-7f3a"})

    assert response.headers["x-request-id"] == "lb-7f3a"
    assert {entry["request_id"] for entry in records(json_log)} == {"lb-7f3a"}
