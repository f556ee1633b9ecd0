"""Webhook URLs cannot make our workers call into private networks (SSRF).

Refused at registration and again at delivery: a name that resolved to a public
address when it was registered may resolve to a private one later (DNS rebinding).
The resolver is the one function the guard asks for addresses; tests replace it with
a fixed table instead of real DNS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures.app import ClientFactory, dev_auth
from tests.webhooks.conftest import RunWorker
from tests.webhooks.receiver import running_receiver
from vstage.app import create_app
from vstage.db import Database
from vstage.models import WebhookAttempt, WebhookDelivery
from vstage.webhooks import urls

PUBLIC = "93.184.216.34"
DNS = {
    "hooks.example.com": [PUBLIC],
    "intranet.example.com": ["10.1.2.3"],
    "mixed.example.com": [PUBLIC, "192.168.0.10"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Replace the resolver with :data:`DNS` (a copy the test may change)."""
    table = {name: list(addresses) for name, addresses in DNS.items()}

    async def resolve(host: str, port: int) -> list[urls.IPAddress]:
        if host not in table:
            raise urls.UnresolvableHost(f"{host} does not resolve")
        return [ipaddress.ip_address(a) for a in table[host]]

    monkeypatch.setattr(urls, "resolve_host", resolve)
    return table


@pytest.fixture
async def strict(pg_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with production rules (https, public addresses only)."""
    settings = pg_db.settings.model_copy(update={"webhook_allow_private": False})
    db = Database(settings, engine=pg_db.engine, sessionmaker=pg_db.sessionmaker)
    app = create_app(settings, database=db, start_worker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers=dev_auth("alice"),
        ) as client,
    ):
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://intranet.example.com/hook",  # a DNS name resolving to 10.x
        "https://mixed.example.com/hook",  # one private address is one too many
        "http://hooks.example.com/hook",  # public, but not https
        "https://user:pass@hooks.example.com/hook",
        "ftp://hooks.example.com/hook",
    ],
)
async def test_unsafe_urls_are_refused_at_registration(
    strict: httpx.AsyncClient, fake_dns: dict[str, list[str]], url: str
) -> None:
    response = await strict.post(
        "/v1/webhook-endpoints", json={"url": url, "events": ["image.ready"]}
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unsafe_webhook_url"


async def test_a_public_https_url_is_accepted(
    strict: httpx.AsyncClient, fake_dns: dict[str, list[str]]
) -> None:
    response = await strict.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example.com/vstage", "events": ["image.ready"]},
    )
    assert response.status_code == 201, response.text


async def test_a_host_that_does_not_resolve_is_refused(
    strict: httpx.AsyncClient, fake_dns: dict[str, list[str]]
) -> None:
    response = await strict.post(
        "/v1/webhook-endpoints",
        json={"url": "https://nowhere.example.com/hook", "events": ["image.ready"]},
    )
    assert response.status_code == 422
    assert "does not resolve" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/hooks/vstage",
        "https://169.254.169.254/latest/meta-data/",
        "https://rebound.example.com:{port}/hooks/vstage",
    ],
)
async def test_unsafe_urls_are_refused_again_at_delivery(
    committed_client_for: ClientFactory,
    pg_committed_db: Database,
    run_worker: RunWorker,
    fake_dns: dict[str, list[str]],
    url: str,
) -> None:
    """Registered while private targets were allowed (or DNS said public); delivered by a
    worker with production rules after DNS changed: refused, nothing sent, not retried."""
    alice = committed_client_for("alice")
    with running_receiver([200]) as receiver:
        fake_dns["rebound.example.com"] = [PUBLIC]
        endpoint = (
            await alice.post(
                "/v1/webhook-endpoints",
                json={"url": url.format(port=receiver.port), "events": ["image.ready"]},
            )
        ).json()
        await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        fake_dns["rebound.example.com"] = ["127.0.0.1"]  # DNS rebinding

        strict = pg_committed_db.settings.model_copy(update={"webhook_allow_private": False})
        await run_worker(strict)

    assert receiver.requests == []
    async with pg_committed_db.transaction() as session:
        attempt = await session.scalar(select(WebhookAttempt))
        record = await session.scalar(select(WebhookDelivery))
    assert attempt is not None
    assert record is not None
    assert attempt.error is not None
    assert attempt.error.startswith("refused:")
    assert "not a public address" in attempt.error
    assert (record.status, record.attempts) == ("failed", 1)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_only_globally_routable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert urls.is_public(ipaddress.ip_address(address)) is public
