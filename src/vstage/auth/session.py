"""The signed web session cookie (dev login and, later, the Auth0 login callback)."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "vstage_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="vstage-session")


def sign_session(secret_key: str, sub: str) -> str:
    return _serializer(secret_key).dumps({"sub": sub})


def read_session(secret_key: str, cookie: str) -> str | None:
    """The session's subject, or ``None`` for a forged, stale or malformed cookie."""
    try:
        data = _serializer(secret_key).loads(cookie, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    sub = data.get("sub") if isinstance(data, dict) else None
    return sub if isinstance(sub, str) and sub else None
