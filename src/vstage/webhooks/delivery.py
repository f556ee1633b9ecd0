"""One HTTP attempt at delivering an event: checked, pinned, signed, bounded in time.

The URL's host is resolved and every address checked (:mod:`vstage.webhooks.urls`)
right before connecting, and the connection goes to a checked address while the
``Host`` header and TLS server name stay the URL's host, so certificates are verified
as usual. No proxies from the environment, no redirects followed (a 3xx is a failed
attempt), nothing of the response body read: only its status counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from ssl import SSLContext

import httpx

from vstage.config import Settings
from vstage.webhooks.urls import (
    IPAddress,
    Target,
    UnresolvableHost,
    UnsafeWebhookUrl,
    checked_addresses,
    parse_target,
)

#: The whole attempt (resolution, connection, TLS, request, response headers).
TIMEOUT_SECONDS = 5.0
USER_AGENT = "vstage-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt gave: a status code, or the error that stopped it."""

    status_code: int | None
    latency_ms: int
    error: str | None = None
    refused: bool = False  # the URL is not allowed (any more): retrying is pointless

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@lru_cache(maxsize=1)
def _ssl_context() -> SSLContext:
    """Built once per process: loading the CA bundle costs more than a request."""
    return httpx.create_ssl_context(trust_env=False)


async def post(
    url: str, body: str, headers: Mapping[str, str], settings: Settings
) -> AttemptResult:
    """POST ``body`` to ``url`` once; never raises for network or policy failures."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            target = parse_target(url, settings)
            addresses = await checked_addresses(target, settings)
            status = await _post_pinned(target, addresses, body, headers)
    except UnsafeWebhookUrl as exc:
        return AttemptResult(None, elapsed(), f"refused: {exc.message}", refused=True)
    except UnresolvableHost as exc:
        return AttemptResult(None, elapsed(), exc.message)
    except TimeoutError:
        return AttemptResult(None, elapsed(), f"no answer within {TIMEOUT_SECONDS:g} s")
    except httpx.HTTPError as exc:
        return AttemptResult(None, elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    return AttemptResult(status, elapsed())


async def _post_pinned(
    target: Target, addresses: Sequence[IPAddress], body: str, headers: Mapping[str, str]
) -> int:
    """Try the checked addresses in resolver order until one accepts the connection."""
    url = httpx.URL(target.url)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    all_headers = {
        **headers,
        "Host": url.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    async with httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS, trust_env=False, follow_redirects=False, verify=_ssl_context()
    ) as client:
        for index, address in enumerate(addresses):
            request = client.build_request(
                "POST",
                url.copy_with(host=str(address)),
                content=body.encode(),
                headers=all_headers,
                extensions=extensions,
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            await response.aclose()
            return response.status_code
    raise AssertionError("unreachable: checked_addresses never returns an empty list")
