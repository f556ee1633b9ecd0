"""The fake Auth0 tenant behaves like the real one for an authorization-code + PKCE login.

These tests pin the fixture's behaviour, so the web login can trust it: a correct
client logs in, a client that gets PKCE, the code or its credentials wrong does not.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.fixtures.auth0 import OIDCProvider
from vstage.auth.auth0 import Auth0Verifier

REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
async def http(oidc_provider: OIDCProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=oidc_provider.issuer) as client:
        yield client


async def authorize(
    http: httpx.AsyncClient, provider: OIDCProvider, challenge: str, **extra: str
) -> dict[str, list[str]]:
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "audience": provider.audience,
    } | extra
    response = await http.get("authorize", params=params)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


async def exchange(
    http: httpx.AsyncClient, provider: OIDCProvider, code: str, verifier: str
) -> httpx.Response:
    return await http.post(
        "oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
        },
    )


async def test_discovery_points_at_the_provider_endpoints(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    config = (await http.get(".well-known/openid-configuration")).json()
    assert config["issuer"] == oidc_provider.issuer
    assert config["jwks_uri"] == f"{oidc_provider.issuer}.well-known/jwks.json"
    assert config["token_endpoint"] == f"{oidc_provider.issuer}oauth/token"
    assert "S256" in config["code_challenge_methods_supported"]


async def test_a_pkce_login_yields_an_id_token_an_api_token_and_userinfo(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    verifier, challenge = pkce_pair()
    with oidc_provider.login_as("auth0|carol", email="carol@example.com", name="Carol"):
        query = await authorize(http, oidc_provider, challenge)
    assert query["state"] == ["st-123"]

    response = await exchange(http, oidc_provider, query["code"][0], verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()

    jwks = jwt.PyJWKClient(f"{oidc_provider.issuer}.well-known/jwks.json")
    id_claims = jwt.decode(
        tokens["id_token"],
        jwks.get_signing_key_from_jwt(tokens["id_token"]),
        algorithms=["RS256"],
        audience=oidc_provider.client_id,
        issuer=oidc_provider.issuer,
    )
    assert id_claims["sub"] == "auth0|carol"
    assert id_claims["nonce"] == "n-456"
    assert id_claims["email"] == "carol@example.com"

    api = Auth0Verifier(oidc_provider.settings())
    try:
        assert (await api.verify(tokens["access_token"]))["sub"] == "auth0|carol"
    finally:
        await api.close()

    info = await http.get("userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json() == {"sub": "auth0|carol", "email": "carol@example.com", "name": "Carol"}


async def test_a_wrong_code_verifier_is_refused(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    _, challenge = pkce_pair()
    query = await authorize(http, oidc_provider, challenge)
    response = await exchange(http, oidc_provider, query["code"][0], pkce_pair()[0])
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


async def test_a_code_works_only_once(http: httpx.AsyncClient, oidc_provider: OIDCProvider) -> None:
    verifier, challenge = pkce_pair()
    code = (await authorize(http, oidc_provider, challenge))["code"][0]
    assert (await exchange(http, oidc_provider, code, verifier)).status_code == 200
    replay = await exchange(http, oidc_provider, code, verifier)
    assert replay.status_code == 403
    assert replay.json()["error"] == "invalid_grant"


async def test_authorize_without_pkce_redirects_back_with_an_error(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    response = await http.get(
        "authorize",
        params={
            "response_type": "code",
            "client_id": oidc_provider.client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
        },
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["s"]


async def test_an_unknown_client_gets_no_redirect(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    response = await http.get(
        "authorize", params={"client_id": "intruder", "redirect_uri": REDIRECT_URI}
    )
    assert response.status_code == 400


async def test_the_token_endpoint_checks_the_client_secret(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    verifier, challenge = pkce_pair()
    code = (await authorize(http, oidc_provider, challenge))["code"][0]
    response = await http.post(
        "oauth/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        auth=(oidc_provider.client_id, "wrong-secret"),
    )
    assert response.status_code == 401


async def test_client_credentials_give_a_machine_token_for_the_api(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    response = await http.post(
        "oauth/token",
        data={"grant_type": "client_credentials", "audience": oidc_provider.audience},
        auth=(oidc_provider.client_id, oidc_provider.client_secret),
    )
    api = Auth0Verifier(oidc_provider.settings())
    try:
        claims = await api.verify(response.json()["access_token"])
    finally:
        await api.close()
    assert claims["sub"] == f"{oidc_provider.client_id}@clients"


async def test_logout_returns_to_the_app(
    http: httpx.AsyncClient, oidc_provider: OIDCProvider
) -> None:
    response = await http.get(
        "v2/logout", params={"client_id": oidc_provider.client_id, "returnTo": "http://app/"}
    )
    assert response.status_code == 302
    assert response.headers["location"] == "http://app/"
    assert oidc_provider.logouts[-1]["client_id"] == oidc_provider.client_id
