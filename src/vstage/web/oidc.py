"""Auth0 universal login: OpenID Connect authorization code + PKCE, state and nonce.

Authlib does the protocol work (discovery, PKCE S256, token exchange, id_token
signature and claim checks against the provider's JWKS). We keep the per-login secrets
(``state``, ``nonce``, ``code_verifier``, where to go next) in a short-lived signed
cookie instead of a server-side session, so API replicas stay stateless.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from itsdangerous import BadSignature, URLSafeTimedSerializer

from vstage.config import Settings
from vstage.errors import Unauthorized, UpstreamError

LOGIN_COOKIE = "vstage_oidc"
LOGIN_MAX_AGE_S = 600
CALLBACK_PATH = "/auth/callback"


@dataclass(frozen=True)
class PendingLogin:
    """What the callback must match: the provider echoes ``state``; ``nonce`` is in the
    id_token; ``code_verifier`` proves we started this login (PKCE)."""

    state: str
    nonce: str
    code_verifier: str
    next: str


class OidcClient:
    """One per app: Authlib caches the discovery document and JWKS on it."""

    def __init__(self, settings: Settings) -> None:
        if not settings.auth0_client_id:
            raise UpstreamError("web login needs VSTAGE_AUTH0_CLIENT_ID")
        self.settings = settings
        self.issuer = settings.auth0_issuer_url
        oauth = OAuth()
        self._client: Any = oauth.register(
            "auth0",
            client_id=settings.auth0_client_id,
            client_secret=settings.auth0_client_secret,
            server_metadata_url=f"{self.issuer}.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
        )
        self._cookie = URLSafeTimedSerializer(settings.secret_key, salt="vstage-oidc-login")

    @property
    def redirect_uri(self) -> str:
        return self.settings.public_url.rstrip("/") + CALLBACK_PATH

    async def start(self, next_path: str) -> tuple[str, str]:
        """The provider's authorize URL and the signed cookie value for the callback."""
        try:
            rv = await self._client.create_authorization_url(self.redirect_uri)
        except Exception as exc:  # network, bad discovery document
            raise UpstreamError(f"login provider unreachable: {exc}") from exc
        pending = {
            "state": rv["state"],
            "nonce": rv["nonce"],
            "code_verifier": rv["code_verifier"],
            "next": next_path,
        }
        return str(rv["url"]), str(self._cookie.dumps(pending))

    def read_pending(self, cookie: str | None) -> PendingLogin:
        if not cookie:
            raise Unauthorized("login session missing or expired; start again")
        try:
            data = self._cookie.loads(cookie, max_age=LOGIN_MAX_AGE_S)
        except BadSignature:
            raise Unauthorized("login session missing or expired; start again") from None
        return PendingLogin(**cast(dict[str, str], data))

    async def finish(self, pending: PendingLogin, *, code: str, state: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the verified id_token claims."""
        if not hmac.compare_digest(pending.state.encode(), state.encode()):
            raise Unauthorized("login state does not match; start again")
        try:
            token = await self._client.fetch_access_token(
                redirect_uri=self.redirect_uri, code=code, code_verifier=pending.code_verifier
            )
            claims = await self._client.parse_id_token(token, nonce=pending.nonce)
        except OAuthError as exc:
            raise Unauthorized(f"login failed: {exc.description or exc.error}") from exc
        except Exception as exc:
            raise Unauthorized(f"login failed: {exc}") from exc
        if claims is None or not claims.get("sub"):
            raise Unauthorized("login failed: the provider sent no id_token")
        return dict(claims)

    def logout_url(self, return_to: str) -> str:
        """Auth0's ``/v2/logout`` ends the Auth0 session too, then comes back here."""
        query = urlencode({"client_id": self.settings.auth0_client_id, "returnTo": return_to})
        return f"{self.issuer}v2/logout?{query}"
