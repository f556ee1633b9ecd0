"""The ``vstage`` command line, run as a real subprocess like an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.db import make_settings


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vstage", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_the_verbs() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in (
        "serve",
        "worker",
        "migrate",
        "rescue",
        "stage",
        "models",
        "users",
        "catalog",
        "plans",
    ):
        assert verb in result.stdout, verb


def test_broken_database_url_is_one_line_and_nonzero(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"VSTAGE_DATABASE_URL": "oracle://nope"}, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "VSTAGE_DATABASE_URL" in lines[0]


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {
        "VSTAGE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
        "VSTAGE_ALLOW_DEV_AUTH": "1",
    }
    result = run_cli("migrate", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "database" in result.stderr


def test_migrate_then_plans_and_roles_on_sqlite(tmp_path: Path) -> None:
    env = {"VSTAGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/v.db"}
    assert run_cli("migrate", env=env).returncode == 0
    listed = run_cli("plans", "list", env=env)
    assert "free\tlimit=3" in listed.stdout
    assert "pro\tlimit=100" in listed.stdout
    updated = run_cli("plans", "set", "pro", "--price-id", "price_123", "--limit", "250", env=env)
    assert updated.returncode == 0, updated.stderr
    assert "pro\tlimit=250\tprice_id=price_123" in run_cli("plans", "list", env=env).stdout
    new = run_cli("plans", "set", "team", env=env)
    assert new.returncode != 0
    assert "--limit" in new.stderr
    role = run_cli("users", "set-role", "auth0|42", "admin", env=env)
    assert role.returncode == 0, role.stderr
    assert "admin" in role.stdout
    bad = run_cli("users", "set-role", "auth0|42", "god", env=env)
    assert bad.returncode != 0
    assert "role must be one of" in bad.stderr


@pytest.mark.usefixtures("pg_url")
def test_plans_set_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(pg_url, tmp_path)
    env = {"VSTAGE_DATABASE_URL": settings.database_url, "VSTAGE_ALLOW_DEV_AUTH": "1"}
    result = run_cli("plans", "set", "cli_test_plan", "--limit", "7", env=env)
    assert result.returncode == 0, result.stderr
    assert "cli_test_plan\tlimit=7" in run_cli("plans", "list", env=env).stdout
