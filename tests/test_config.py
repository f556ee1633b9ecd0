"""Configuration: embedded defaults, and one clear line for anything invalid."""

from __future__ import annotations

import pytest

from vstage.config import Settings, load_settings
from vstage.errors import ConfigError


def test_defaults_are_embedded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VSTAGE_DATABASE_URL", "VSTAGE_STORAGE_URL", "VSTAGE_AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.embedded
    assert settings.database_url.startswith("sqlite+aiosqlite:///./var/")
    assert settings.storage_url.startswith("file://./var/")
    assert settings.auth_mode == "dev"
    assert not settings.stripe_enabled


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"VSTAGE_DATABASE_URL": "mysql://x"}, "VSTAGE_DATABASE_URL"),
        ({"VSTAGE_STORAGE_URL": "ftp://x"}, "VSTAGE_STORAGE_URL"),
        ({"VSTAGE_STORAGE_URL": "s3://"}, "VSTAGE_STORAGE_URL"),
        ({"VSTAGE_AUTH_MODE": "magic"}, "VSTAGE_AUTH_MODE"),
        ({"VSTAGE_UPLOAD_RATE_PER_MINUTE": "many"}, "VSTAGE_UPLOAD_RATE_PER_MINUTE"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in info.value.message
    assert "\n" not in info.value.message


def test_dev_auth_is_refused_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSTAGE_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("VSTAGE_SECRET_KEY", "s3cret")
    with pytest.raises(ConfigError, match="VSTAGE_AUTH_MODE=dev is refused"):
        load_settings()
    monkeypatch.setenv("VSTAGE_ALLOW_DEV_AUTH", "1")
    assert load_settings().allow_dev_auth


def test_auth0_mode_needs_domain_and_audience() -> None:
    with pytest.raises(ValueError, match="AUTH0_DOMAIN"):
        Settings(auth_mode="auth0")
    settings = Settings(auth_mode="auth0", auth0_domain="tenant.eu.auth0.com", auth0_audience="api")
    assert settings.auth0_issuer_url == "https://tenant.eu.auth0.com/"
    local = Settings(auth_mode="auth0", auth0_issuer="http://127.0.0.1:9999", auth0_audience="a")
    assert local.auth0_issuer_url == "http://127.0.0.1:9999/"
