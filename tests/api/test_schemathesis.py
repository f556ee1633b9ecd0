"""Property-based API fuzzing with schemathesis against the served ``/openapi.json``.

Every operation gets a bounded, deterministic set of generated requests (valid and
invalid ones), authenticated as an admin with a dev token, over real HTTP to uvicorn on
loopback. No request may cause a 5xx, and every documented response must match its
schema and content type. Path ids are pinned to real rows for valid requests (except
deletes), so the handlers' own code runs, not only their 404s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy import update

from tests.fixtures.db import make_settings
from tests.fixtures.stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.images import photos
from vstage.app import create_app
from vstage.db import Database
from vstage.models import User
from vstage.plans.service import set_plan

SUB = "schemathesis"
AUTH = {"Authorization": f"Bearer dev:{SUB}"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}


@pytest.fixture
def live_server(
    pg_committed_db: Database, tmp_path: Path, fake_stripe: FakeStripe
) -> Iterator[str]:
    """The app under uvicorn in a thread with its own event loop and connection pool,
    billing wired to the fake Stripe API."""
    settings = make_settings(
        pg_committed_db.settings.database_url,
        tmp_path,
        upload_rate_per_minute=100_000,
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.base_url,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, start_worker=False),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def _seed(base_url: str) -> dict[str, str]:
    """A project with an image and its job, owned by the fuzzing user."""
    me = requests.get(f"{base_url}/v1/me", headers=AUTH, timeout=10).json()
    project = requests.post(
        f"{base_url}/v1/projects", json={"name": "fuzz"}, headers=AUTH, timeout=10
    ).json()
    accepted = requests.post(
        f"{base_url}/v1/projects/{project['id']}/images",
        data={"room_type": "bedroom", "style": "modern"},
        files={"file": ("a.jpg", photos.jpeg(), "image/jpeg")},
        headers=AUTH,
        timeout=10,
    ).json()
    return {
        "user_id": me["id"],
        "project_id": project["id"],
        "image_id": accepted["images"][0]["id"],
        "job_id": accepted["jobs"][0]["id"],
    }


def _fuzz(base_url: str, ids: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an operation it cannot read: {result}"
        operation = result.ok()
        for mode, examples in EXAMPLES.items():
            pinned = (
                {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
                if mode is GenerationMode.POSITIVE and operation.method.upper() != "DELETE"
                else None
            )
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=pinned)

            @hypothesis_settings(
                max_examples=examples,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing to make invalid: the operation takes no input
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return failures


async def test_no_server_errors_and_no_schema_violations(
    live_server: str, pg_committed_db: Database
) -> None:
    ids = await asyncio.to_thread(_seed, live_server)
    async with pg_committed_db.transaction() as session:
        await session.execute(update(User).where(User.auth0_sub == SUB).values(role="admin"))
        await set_plan(session, "free", limit=100_000)
    failures = await asyncio.to_thread(_fuzz, live_server, ids)
    assert not failures, "\n\n".join(failures)
