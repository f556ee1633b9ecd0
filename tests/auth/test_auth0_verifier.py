"""Auth0 access tokens: what is accepted, what is refused, and what JWKS traffic it costs.

Runs against the local OIDC provider (a real HTTP server serving a real JWKS).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from tests.fixtures.auth0 import OIDCProvider, new_rsa_key
from vstage.auth.auth0 import Auth0Verifier
from vstage.errors import ServiceUnavailable, Unauthorized


class FakeClock:
    """Monotonic time the test moves by hand (the JWKS cooldown is about time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


MakeVerifier = Callable[..., Auth0Verifier]


@pytest.fixture
async def make_verifier(oidc_provider: OIDCProvider) -> AsyncIterator[MakeVerifier]:
    """Fresh verifiers (cold JWKS cache) against the provider; closed afterwards."""
    made: list[Auth0Verifier] = []

    def make(cooldown: float = 60.0, clock: Callable[[], float] | None = None) -> Auth0Verifier:
        settings = oidc_provider.settings(jwks_cooldown_seconds=cooldown)
        verifier = Auth0Verifier(settings, clock=clock) if clock else Auth0Verifier(settings)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.close()


@pytest.fixture
def verifier(make_verifier: MakeVerifier) -> Auth0Verifier:
    return make_verifier()


async def test_a_valid_token_yields_its_claims(
    verifier: Auth0Verifier, oidc_provider: OIDCProvider
) -> None:
    claims = await verifier.verify(oidc_provider.issue_token("auth0|alice"))
    assert claims["sub"] == "auth0|alice"
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.audience


async def test_the_audience_may_be_one_of_several(
    verifier: Auth0Verifier, oidc_provider: OIDCProvider
) -> None:
    aud = [oidc_provider.audience, f"{oidc_provider.issuer}userinfo"]
    claims = await verifier.verify(oidc_provider.issue_token(aud=aud))
    assert claims["aud"] == aud


async def test_clock_skew_within_30_seconds_is_tolerated(
    verifier: Auth0Verifier, oidc_provider: OIDCProvider
) -> None:
    await verifier.verify(oidc_provider.issue_token(expires_in=-10))
    await verifier.verify(oidc_provider.issue_token(not_before_in=10, issued_at_in=10))


def _attacks(p: OIDCProvider) -> dict[str, tuple[str, str]]:
    """name → (token, the reason the verifier must give)."""
    forged_key = new_rsa_key()
    return {
        "alg none": (p.issue_token(alg="none"), "algorithm 'none' is not allowed"),
        "HS256 keyed with our public key": (
            p.issue_token(alg="HS256"),
            "algorithm 'HS256' is not allowed",
        ),
        "HS256 claiming RS256 in its header": (
            p.issue_token(alg="HS256", headers={"alg": "RS256"}),
            "signature does not verify",
        ),
        "RS512": (p.issue_token(alg="RS512"), "algorithm 'RS512' is not allowed"),
        "PS256": (p.issue_token(alg="PS256"), "algorithm 'PS256' is not allowed"),
        "signed by a foreign key under our kid": (
            p.issue_token(key=forged_key),
            "signature does not verify",
        ),
        "foreign key shipped in the header": (
            p.issue_token(
                kid="attacker",
                key=forged_key,
                headers={"jku": "https://evil.example/jwks.json"},
            ),
            "signing key 'attacker' is unknown",
        ),
        "wrong audience": (p.issue_token(aud="https://other-api/"), "audience"),
        "no audience": (p.issue_token(omit=["aud"]), "'aud' claim"),
        "wrong issuer": (p.issue_token(iss="https://evil.auth0.com/"), "issuer"),
        "issuer without trailing slash": (p.issue_token(iss=p.issuer.rstrip("/")), "issuer"),
        "expired": (p.issue_token(expires_in=-120), "expired"),
        "no expiry": (p.issue_token(expires_in=None), "'exp' claim"),
        "not yet valid": (p.issue_token(not_before_in=300), "not valid yet"),
        "issued in the future": (p.issue_token(issued_at_in=300), "not valid yet"),
        "no issued-at": (p.issue_token(issued_at_in=None), "'iat' claim"),
        "unknown kid": (p.issue_token(kid="no-such-key"), "signing key 'no-such-key' is unknown"),
        "no kid": (p.issue_token(headers={"kid": None}), "no key id"),
        "missing sub": (p.issue_token(sub=None), "'sub' claim"),
        "empty sub": (p.issue_token(sub=""), "no subject"),
        "tampered payload": (_tamper(p.issue_token("auth0|alice")), "signature does not verify"),
        "garbage": ("not-a-jwt", "malformed"),
        "three garbage parts": ("a.b.c", "malformed"),
        "dev token": ("dev:alice", "malformed"),
        "empty": ("", "malformed"),
    }


def _tamper(token: str) -> str:
    """Swap the payload for one naming another subject, keeping the signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "auth0|admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.fixture(scope="module")
def attacks(oidc_provider: OIDCProvider) -> dict[str, tuple[str, str]]:
    return _attacks(oidc_provider)


@pytest.mark.parametrize(
    "attack",
    [
        "alg none",
        "HS256 keyed with our public key",
        "HS256 claiming RS256 in its header",
        "RS512",
        "PS256",
        "signed by a foreign key under our kid",
        "foreign key shipped in the header",
        "wrong audience",
        "no audience",
        "wrong issuer",
        "issuer without trailing slash",
        "expired",
        "no expiry",
        "not yet valid",
        "issued in the future",
        "no issued-at",
        "unknown kid",
        "no kid",
        "missing sub",
        "empty sub",
        "tampered payload",
        "garbage",
        "three garbage parts",
        "dev token",
        "empty",
    ],
)
async def test_bad_tokens_are_refused_with_a_precise_reason(
    verifier: Auth0Verifier, attacks: dict[str, tuple[str, str]], attack: str
) -> None:
    token, reason = attacks[attack]
    with pytest.raises(Unauthorized, match=reason) as refused:
        await verifier.verify(token)
    assert refused.value.status_code == 401


async def test_the_jwks_is_fetched_once_and_then_cached(
    verifier: Auth0Verifier, oidc_provider: OIDCProvider
) -> None:
    before = oidc_provider.jwks_fetches
    for _ in range(20):
        await verifier.verify(oidc_provider.issue_token())
    assert oidc_provider.jwks_fetches - before == 1


async def test_an_unknown_kid_flood_on_a_cold_cache_costs_one_fetch(
    verifier: Auth0Verifier, oidc_provider: OIDCProvider
) -> None:
    before = oidc_provider.jwks_fetches
    flood = [oidc_provider.issue_token(kid=secrets.token_hex(8)) for _ in range(100)]
    results = await asyncio.gather(*(verifier.verify(t) for t in flood), return_exceptions=True)
    assert all(isinstance(r, Unauthorized) for r in results)
    assert oidc_provider.jwks_fetches - before == 1


async def test_an_unknown_kid_flood_on_a_warm_cache_costs_no_fetch_within_the_cooldown(
    verifier: Auth0Verifier, oidc_provider: OIDCProvider
) -> None:
    await verifier.verify(oidc_provider.issue_token())  # initial fetch
    before = oidc_provider.jwks_fetches
    flood = [oidc_provider.issue_token(kid=secrets.token_hex(8)) for _ in range(100)]
    good = [oidc_provider.issue_token(f"auth0|user{i}") for i in range(10)]
    results = await asyncio.gather(
        *(verifier.verify(t) for t in flood + good), return_exceptions=True
    )
    assert all(isinstance(r, Unauthorized) for r in results[:100])
    assert [r["sub"] for r in results[100:] if isinstance(r, dict)] == [
        f"auth0|user{i}" for i in range(10)
    ]
    assert oidc_provider.jwks_fetches - before == 0


async def test_an_unknown_kid_flood_after_the_cooldown_costs_at_most_one_fetch(
    make_verifier: MakeVerifier, oidc_provider: OIDCProvider
) -> None:
    clock = FakeClock()
    verifier = make_verifier(cooldown=60, clock=clock)
    await verifier.verify(oidc_provider.issue_token())  # initial fetch
    clock.now += 61
    before = oidc_provider.jwks_fetches
    flood = [oidc_provider.issue_token(kid=secrets.token_hex(8)) for _ in range(100)]
    results = await asyncio.gather(*(verifier.verify(t) for t in flood), return_exceptions=True)
    assert all(isinstance(r, Unauthorized) for r in results)
    assert oidc_provider.jwks_fetches - before == 1


async def test_a_rotated_key_is_picked_up_once_the_cooldown_has_passed(
    make_verifier: MakeVerifier, oidc_provider: OIDCProvider
) -> None:
    clock = FakeClock()
    verifier = make_verifier(cooldown=60, clock=clock)
    await verifier.verify(oidc_provider.issue_token())
    new_kid = oidc_provider.add_key()
    rotated = oidc_provider.issue_token("auth0|rotated", kid=new_kid)

    clock.now += 30  # the tenant rotated, but we looked only 30 s ago
    with pytest.raises(Unauthorized, match="unknown"):
        await verifier.verify(rotated)

    clock.now += 31
    before = oidc_provider.jwks_fetches
    assert (await verifier.verify(rotated))["sub"] == "auth0|rotated"
    assert await verifier.verify(oidc_provider.issue_token())  # old key still published
    assert oidc_provider.jwks_fetches - before == 1


async def test_a_key_removed_from_the_jwks_stops_working_after_a_refresh(
    make_verifier: MakeVerifier, oidc_provider: OIDCProvider
) -> None:
    clock = FakeClock()
    verifier = make_verifier(cooldown=60, clock=clock)
    retiring = oidc_provider.add_key()
    await verifier.verify(oidc_provider.issue_token(kid=retiring))
    oidc_provider.unpublish(retiring)
    clock.now += 61
    # Any unknown kid triggers the refresh that drops the retired key.
    await asyncio.gather(
        verifier.verify(oidc_provider.issue_token(kid="trigger")), return_exceptions=True
    )
    with pytest.raises(Unauthorized, match="unknown"):
        await verifier.verify(oidc_provider.issue_token(kid=retiring))


async def test_jwks_outage_with_no_cached_keys_is_a_503_not_the_callers_fault(
    make_verifier: MakeVerifier, oidc_provider: OIDCProvider
) -> None:
    clock = FakeClock()
    verifier = make_verifier(cooldown=60, clock=clock)
    with oidc_provider.jwks_down():
        with pytest.raises(ServiceUnavailable, match="JWKS"):
            await verifier.verify(oidc_provider.issue_token())
        before = oidc_provider.jwks_fetches
        with pytest.raises(ServiceUnavailable):  # no hammering while it is down
            await verifier.verify(oidc_provider.issue_token())
        assert oidc_provider.jwks_fetches == before
    clock.now += 5  # a failed fetch is retried sooner than the full cooldown
    assert await verifier.verify(oidc_provider.issue_token())


async def test_jwks_outage_with_cached_keys_keeps_known_keys_working(
    make_verifier: MakeVerifier, oidc_provider: OIDCProvider
) -> None:
    clock = FakeClock()
    verifier = make_verifier(cooldown=60, clock=clock)
    await verifier.verify(oidc_provider.issue_token())
    clock.now += 61
    with oidc_provider.jwks_down(500):
        with pytest.raises(Unauthorized, match="unknown"):
            await verifier.verify(oidc_provider.issue_token(kid="rotated-during-outage"))
        assert await verifier.verify(oidc_provider.issue_token())


async def test_an_empty_jwks_counts_as_an_outage_and_keeps_cached_keys(
    make_verifier: MakeVerifier, oidc_provider: OIDCProvider
) -> None:
    clock = FakeClock()
    warm, cold = make_verifier(cooldown=60, clock=clock), make_verifier(cooldown=60, clock=clock)
    await warm.verify(oidc_provider.issue_token())
    clock.now += 61
    published, oidc_provider.published = oidc_provider.published, []
    try:
        with pytest.raises(ServiceUnavailable, match="no usable RS256"):
            await cold.verify(oidc_provider.issue_token())
        with pytest.raises(Unauthorized, match="unknown"):
            await warm.verify(oidc_provider.issue_token(kid="new"))  # triggers the refresh
        assert await warm.verify(oidc_provider.issue_token())  # still trusted
    finally:
        oidc_provider.published = published
