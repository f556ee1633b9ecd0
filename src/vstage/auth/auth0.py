"""Verification of Auth0 access tokens (RS256 JWTs) against the tenant's JWKS.

Every check is explicit because each one closes a known attack:

- The algorithm is pinned to RS256 before any key is looked at, so ``alg: none`` and
  HS256 "signed" with our public key (key confusion) never reach a verifier.
- Keys come only from our issuer's JWKS by ``kid``; ``jku``/``jwk``/``x5u`` headers
  are ignored, so a token cannot bring its own key.
- ``iss`` must equal the configured issuer, ``aud`` must contain our API audience,
  ``exp`` and ``iat`` are required, ``nbf`` is honoured, all with 30 s of clock leeway;
  ``sub`` must be a non-empty string (it keys our users table).

JWKS caching: keys are fetched from ``{issuer}.well-known/jwks.json`` on first use and
again only when a token names an unknown ``kid`` (key rotation) and the cooldown has
passed since the last fetch. One :class:`asyncio.Lock` serialises fetches and the
fetch time is recorded before the request goes out, so a flood of tokens with random
``kid`` values costs at most one fetch per cooldown, not one per request.

Fetch failures: with keys cached, an unknown ``kid`` is simply :class:`Unauthorized`.
With no keys at all we cannot judge any token, which is our outage, not the caller's
fault: :class:`ServiceUnavailable` (503) tells well-behaved clients to retry rather
than to throw away a valid token. A failed fetch is retried after
``min(cooldown, 5 s)`` so a blip at start-up does not lock everyone out for a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from vstage.config import Settings
from vstage.errors import ConfigError, ServiceUnavailable, Unauthorized

ALGORITHM = "RS256"
LEEWAY_S = 30.0
FAILED_FETCH_RETRY_S = 5.0
_MAX_JWKS_BYTES = 1024 * 1024

_CLAIM_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet (nbf/iat in the future)"),
    (jwt.InvalidAudienceError, "token audience does not include this API"),
    (jwt.InvalidIssuerError, "token issuer is not the configured Auth0 tenant"),
    (jwt.InvalidSignatureError, "token signature does not verify"),
    (jwt.InvalidAlgorithmError, "token algorithm is not allowed (RS256 only)"),
)


class Auth0Verifier:
    """Verifies bearer tokens; one instance per process (it owns the JWKS cache)."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.auth0_audience or not (settings.auth0_domain or settings.auth0_issuer):
            raise ConfigError("Auth0 verification needs VSTAGE_AUTH0_AUDIENCE and a tenant")
        self.issuer = settings.auth0_issuer_url
        self.audience = settings.auth0_audience
        self.jwks_url = f"{self.issuer}.well-known/jwks.json"
        self.cooldown_s = settings.jwks_cooldown_seconds
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._next_fetch_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """Return the token's claims, or raise :class:`Unauthorized` saying why not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token: not a JWT") from None
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise Unauthorized(f"token algorithm {alg!r} is not allowed (RS256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token header has no key id (kid)")
        key = await self._key(kid)
        claims = self._decode(token, key)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthorized("token has no subject (sub)")
        return claims

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token lacks the required {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            for kind, message in _CLAIM_ERRORS:
                if isinstance(exc, kind):
                    raise Unauthorized(message) from None
            raise Unauthorized(f"invalid token: {exc}") from None

    async def _key(self, kid: str) -> jwt.PyJWK:
        """The signing key ``kid``, refreshing the JWKS at most once per cooldown."""
        if key := self._keys.get(kid):
            return key
        async with self._lock:
            if key := self._keys.get(kid):  # another request fetched it meanwhile
                return key
            now = self._clock()
            if now >= self._next_fetch_at:
                self._next_fetch_at = now + self.cooldown_s  # before the fetch: no stampede
                try:
                    self._keys = await self._fetch_keys()
                except asyncio.CancelledError:  # the caller went away: retry soon
                    self._next_fetch_at = now + min(self.cooldown_s, FAILED_FETCH_RETRY_S)
                    raise
                except (httpx.HTTPError, ValueError) as exc:
                    self._next_fetch_at = now + min(self.cooldown_s, FAILED_FETCH_RETRY_S)
                    if not self._keys:
                        raise ServiceUnavailable(
                            f"cannot verify tokens: JWKS fetch from {self.jwks_url} failed ({exc})"
                        ) from None
            if key := self._keys.get(kid):
                return key
        if not self._keys:
            raise ServiceUnavailable(f"cannot verify tokens: no signing keys at {self.jwks_url}")
        raise Unauthorized(f"token signing key {kid!r} is unknown")

    async def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        """Download the JWKS; keep RSA signing keys usable with RS256, by ``kid``."""
        response = await self._http.get(self.jwks_url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > _MAX_JWKS_BYTES:
            raise ValueError("JWKS document too large")
        document = response.json()
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("JWKS document has no 'keys' list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA":
                continue
            if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM)
            except jwt.PyJWTError:
                continue  # one malformed key must not take the others down
        if not keys:
            raise ValueError("JWKS has no usable RS256 signing keys")
        return keys

    async def close(self) -> None:
        """Close the HTTP client if this verifier created it."""
        if self._owns_http:
            await self._http.aclose()
