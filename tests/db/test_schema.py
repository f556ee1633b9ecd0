"""The migrated PostgreSQL schema matches the contract of DESIGN §1."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from vstage.migrate import downgrade, upgrade
from vstage.models import Base

# (table, column) -> (data_type, is_nullable)
SEED_COLUMNS: dict[tuple[str, str], tuple[str, str]] = {
    ("users", "id"): ("uuid", "NO"),
    ("users", "auth0_sub"): ("text", "NO"),
    ("users", "stripe_customer_id"): ("text", "YES"),
    ("users", "role"): ("text", "NO"),
    ("users", "created_at"): ("timestamp with time zone", "NO"),
    ("projects", "id"): ("uuid", "NO"),
    ("projects", "user_id"): ("uuid", "NO"),
    ("projects", "name"): ("text", "NO"),
    ("projects", "created_at"): ("timestamp with time zone", "NO"),
    ("images", "id"): ("uuid", "NO"),
    ("images", "project_id"): ("uuid", "NO"),
    ("images", "original_url"): ("text", "NO"),
    ("images", "staged_url"): ("text", "YES"),
    ("images", "room_type"): ("text", "NO"),
    ("images", "style"): ("text", "NO"),
    ("images", "seed"): ("bigint", "NO"),
    ("images", "status"): ("USER-DEFINED", "NO"),
    ("images", "error"): ("text", "YES"),
    ("images", "created_at"): ("timestamp with time zone", "NO"),
    ("images", "updated_at"): ("timestamp with time zone", "NO"),
    ("jobs", "id"): ("uuid", "NO"),
    ("jobs", "image_id"): ("uuid", "YES"),
    ("jobs", "type"): ("text", "NO"),
    ("jobs", "payload_json"): ("jsonb", "NO"),
    ("jobs", "status"): ("text", "NO"),
    ("jobs", "error"): ("text", "YES"),
    ("jobs", "created_at"): ("timestamp with time zone", "NO"),
    ("jobs", "started_at"): ("timestamp with time zone", "YES"),
    ("jobs", "finished_at"): ("timestamp with time zone", "YES"),
    ("plans", "id"): ("uuid", "NO"),
    ("plans", "code"): ("text", "NO"),
    ("plans", "price_id"): ("text", "YES"),
    ("plans", "monthly_limit"): ("integer", "NO"),
}

EXPECTED_CASCADING_FKS = {
    ("projects", "user_id", "users"),
    ("images", "project_id", "projects"),
    ("jobs", "image_id", "images"),
}


async def _rows(conn: AsyncConnection, sql: str) -> list[Any]:
    return list((await conn.execute(text(sql))).all())


async def test_every_seed_column_has_its_type_and_nullability(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        rows = await _rows(
            conn,
            "SELECT table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema = 'public'",
        )
    await engine.dispose()
    actual = {(t, c): (d, n) for t, c, d, n in rows}
    for column, expected in SEED_COLUMNS.items():
        assert actual.get(column) == expected, column


async def test_image_status_is_a_real_enum_with_four_values(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        rows = await _rows(
            conn,
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "WHERE t.typname = 'image_status' ORDER BY e.enumsortorder",
        )
        udt = await _rows(
            conn,
            "SELECT udt_name FROM information_schema.columns "
            "WHERE table_name = 'images' AND column_name = 'status'",
        )
    await engine.dispose()
    assert [r[0] for r in rows] == ["queued", "processing", "ready", "error"]
    assert udt == [("image_status",)]


async def test_foreign_keys_cascade_on_delete(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        rows = await _rows(
            conn,
            """
            SELECT cl.relname, att.attname, ref.relname, con.confdeltype::text
            FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_class ref ON ref.oid = con.confrelid
            JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
            WHERE con.contype = 'f'
            """,
        )
    await engine.dispose()
    cascading = {(t, c, r) for t, c, r, action in rows if action == "c"}
    assert cascading >= EXPECTED_CASCADING_FKS


async def test_role_is_checked_and_unique_constraints_hold(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        checks = await _rows(
            conn,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'users'::regclass AND contype = 'c'",
        )
        uniques = await _rows(
            conn,
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
            "WHERE c.conrelid IN ('users'::regclass, 'plans'::regclass) AND c.contype = 'u'",
        )
    await engine.dispose()
    assert any("'user'" in c[0] and "'admin'" in c[0] for c in checks)
    assert {u[0] for u in uniques} >= {"auth0_sub", "stripe_customer_id", "code"}


async def test_claim_index_is_partial_on_queued_jobs(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        rows = await _rows(
            conn, "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_jobs_claim'"
        )
    await engine.dispose()
    assert len(rows) == 1
    assert "(run_after, id)" in rows[0][0]
    assert "WHERE (status = 'queued'::text)" in rows[0][0]


async def test_free_and_pro_plans_are_seeded(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        rows = await _rows(conn, "SELECT code, monthly_limit FROM plans ORDER BY monthly_limit")
    await engine.dispose()
    assert ("free", 3) in rows
    assert ("pro", 100) in rows


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree_on_postgresql(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    await engine.dispose()
    assert diff == []


async def test_models_and_migrations_agree_on_sqlite(sqlite_template: object) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{sqlite_template}")
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    await engine.dispose()
    assert diff == []


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
async def test_downgrade_to_base_and_upgrade_again(
    dialect: str, pg_database: str, tmp_path: object
) -> None:
    if dialect == "postgresql":
        import uuid

        import psycopg

        from tests.fixtures.db import PG_ADMIN_DSN, _pg_url

        name = f"vstage_mig_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/mig.db"
    engine = create_async_engine(url)
    try:
        await upgrade(engine)
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            remaining = await conn.run_sync(
                lambda c: [t for t in c.dialect.get_table_names(c) if t != "alembic_version"]
            )
        assert remaining == []
        await upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == []
    finally:
        await engine.dispose()
        if dialect == "postgresql":
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
