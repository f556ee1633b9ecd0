"""Queue test fixtures: fast queue timings, side-effect tables, worker processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import tests.queue.handlers  # noqa: F401  (registers the test job types)
from tests.factories import make_image, make_project, make_user
from tests.fixtures.db import make_settings
from vstage.config import Settings
from vstage.db import Database
from vstage.models import Job, Usage, utcnow
from vstage.queue import enqueue
from vstage.storage import make_storage
from vstage.storage.base import Storage

REPO = Path(__file__).resolve().parents[2]

#: Queue timings for tests: heartbeats every 0.2 s, a worker is presumed dead after 1.5 s.
FAST: dict[str, Any] = {
    "job_heartbeat_seconds": 0.2,
    "job_heartbeat_timeout_seconds": 1.5,
    "job_retry_base_seconds": 0.05,
    "job_retry_max_seconds": 0.5,
    "job_rescue_interval_seconds": 0.3,
    "job_progress_interval_seconds": 0.05,
    "worker_poll_seconds": 0.2,
    "worker_shutdown_grace_seconds": 5.0,
    "database_pool_size": 4,
}


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    """Overrides the shared fixture: same database, fast queue timings."""
    return make_settings(pg_url, tmp_path, **FAST)


@pytest.fixture
def sqlite_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    path = tmp_path / "vstage.db"
    shutil.copy(sqlite_template, path)
    return make_settings(f"sqlite+aiosqlite:///{path}", tmp_path, **FAST)


@pytest.fixture
async def qdb(pg_committed_db: Database) -> AsyncIterator[Database]:
    """A committing database with the side-effect tables of ``tests.queue.handlers``."""
    async with pg_committed_db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS test_effects ("
                " job_id uuid PRIMARY KEY, worker_id text NOT NULL)"
            )
        )
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS test_runs ("
                " job_id uuid NOT NULL, worker_id text NOT NULL, attempt int NOT NULL)"
            )
        )
    try:
        yield pg_committed_db
    finally:
        # Dropped, not emptied: the schema test compares the database with the models.
        async with pg_committed_db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS test_effects, test_runs"))


@pytest.fixture
async def storage(pg_settings: Settings) -> AsyncIterator[Storage]:
    store = make_storage(pg_settings)
    yield store
    await store.close()


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def enqueue_on_image(
    db: Database,
    job_type: str,
    payload: dict[str, Any] | None = None,
    *,
    max_attempts: int = 3,
    charged: bool = False,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A job on a fresh image (optionally charged one unit); returns (job id, image id)."""
    async with db.transaction() as session:
        user = await make_user(session)
        image = await make_image(session, await make_project(session, user))
        if charged:
            now = utcnow()
            session.add(
                Usage(
                    user_id=user.id,
                    image_id=image.id,
                    period_start=now - timedelta(days=1),
                    period_end=now + timedelta(days=29),
                )
            )
        job = await enqueue(
            session,
            type=job_type,
            payload=payload or {},
            image_id=image.id,
            max_attempts=max_attempts,
        )
        return job.id, image.id


async def get_job(db: Database, job_id: uuid.UUID) -> Job:
    async with db.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, seconds: float = 15.0, what: str = "condition"
) -> float:
    """Poll ``condition`` every 20 ms; return how long it took, fail after ``seconds``."""
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load exactly ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSTAGE_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"VSTAGE_{name.upper()}"] = str(value)
    env["VSTAGE_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = str(REPO)
    return env


class Processes:
    """Worker processes started by a test; whatever is left is killed at teardown."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def spawn(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"proc-{len(self.started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, *argv],
            cwd=REPO,
            env={**settings_env(self.settings), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(proc)
        return proc

    def worker(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``vstage worker`` with the test job types loaded."""
        return self.spawn(
            "-m", "vstage", "worker", "--handlers-module", "tests.queue.handlers", *args, env=env
        )

    def output(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.logs.iterdir())
        )

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()


@pytest.fixture
def processes(qdb: Database, pg_settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(pg_settings, logs)
    try:
        yield procs
    finally:
        procs.stop_all()


async def wait_exit(proc: subprocess.Popen[bytes], seconds: float) -> int:
    """The exit code, waiting without blocking the event loop."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None:
        if time.monotonic() > deadline:
            pytest.fail(f"process {proc.pid} still running after {seconds}s")
        await asyncio.sleep(0.02)
    return proc.returncode
