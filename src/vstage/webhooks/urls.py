"""Where outbound webhooks may go: the SSRF guard.

A webhook URL is chosen by a user but fetched by *our* workers, inside our network. So
it must be https (outside embedded mode), and every address its host resolves to must
be globally routable: no loopback, link-local (cloud metadata at 169.254.169.254),
private, shared, reserved or multicast ranges. The check runs at registration and again
at every delivery (DNS answers change), and the delivery then connects to the very
address that was checked, so a second, different DNS answer (rebinding) cannot slip in
between the check and the connection. ``VSTAGE_WEBHOOK_ALLOW_PRIVATE=1`` lifts both
rules, for tests and trusted private deployments.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from vstage.config import Settings
from vstage.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
#: A registration request must not hang on a slow resolver (deliveries have their own
#: overall timeout).
RESOLVE_TIMEOUT_SECONDS = 5.0


class UnsafeWebhookUrl(InvalidInput):
    """The URL is not one our workers may call (422 at registration)."""

    code = "unsafe_webhook_url"


class UnresolvableHost(InvalidInput):
    """The host has no address right now (422 at registration; retried at delivery)."""

    code = "unresolvable_webhook_host"


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL: what to connect to and what to call it."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def is_ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_target(url: str, settings: Settings) -> Target:
    """Check the URL's shape: scheme, host, no credentials; not yet its addresses."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookUrl(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    allowed = (
        ("https", "http") if settings.embedded or settings.webhook_allow_private else ("https",)
    )
    if scheme not in allowed:
        raise UnsafeWebhookUrl("webhook URLs must use https")
    if not parts.hostname:
        raise UnsafeWebhookUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("the URL must not carry credentials")
    return Target(url, scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, looking through IPv4-mapped IPv6 (``::ffff:10.0.0.1``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the system resolver); tests replace this."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise UnresolvableHost(f"{host} does not resolve: {exc.strerror}") from None
    seen: dict[str, IPAddress] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


async def checked_addresses(target: Target, settings: Settings) -> list[IPAddress]:
    """The addresses to connect to, each one checked; raise if any is not public.

    All of them, not just the first: a host answering with one public and one private
    address would otherwise let a retry or a client's address choice reach the private
    one.
    """
    if target.is_ip_literal:
        addresses: list[IPAddress] = [ipaddress.ip_address(target.host)]
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                addresses = await resolve_host(target.host, target.port)
        except TimeoutError:
            raise UnresolvableHost(f"{target.host} did not resolve in time") from None
    if not addresses:
        raise UnresolvableHost(f"{target.host} does not resolve")
    if not settings.webhook_allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeWebhookUrl(
                    f"{target.host} resolves to {address}, which is not a public address"
                )
    return addresses


async def validate_for_registration(url: str, settings: Settings) -> Target:
    """The registration check: shape, then (unless private targets are allowed) addresses."""
    target = parse_target(url, settings)
    if not settings.webhook_allow_private:
        await checked_addresses(target, settings)
    return target
