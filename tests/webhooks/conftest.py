"""Webhook test fixtures: a committing app, a worker with a stand-in stager, settings
that let deliveries reach a receiver on loopback and retry at once."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from tests.factories import make_image
from tests.fixtures.db import make_settings
from vstage.config import Settings
from vstage.db import Database
from vstage.models import Project
from vstage.queue import HandlerRegistry, JobContext, JobResult, PermanentJobError, Worker, enqueue
from vstage.storage import make_storage
from vstage.webhooks.events import DELIVER_WEBHOOK
from vstage.webhooks.handler import DeliverPayload, deliver_webhook


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    """Overrides the shared fixture: loopback receivers allowed, retries without delay."""
    return make_settings(
        pg_url,
        tmp_path,
        webhook_allow_private=True,
        webhook_retry_base_seconds=0,
        job_rescue_interval_seconds=0,
        worker_poll_seconds=0.05,
    )


@pytest.fixture
def sqlite_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    """Embedded mode with the same webhook settings as :func:`pg_settings`."""
    path = tmp_path / "vstage.db"
    shutil.copy(sqlite_template, path)
    return make_settings(
        f"sqlite+aiosqlite:///{path}",
        tmp_path,
        webhook_allow_private=True,
        webhook_retry_base_seconds=0,
        job_rescue_interval_seconds=0,
        worker_poll_seconds=0.05,
    )


class StandInPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fail: bool = False


async def _stand_in_stager(ctx: JobContext, payload: StandInPayload) -> JobResult:
    """Finishes (or fails) at once: the queue then sets the image status for real."""
    if payload.fail:
        raise PermanentJobError("the photo could not be staged")
    return JobResult(image={"staged_url": "staged.jpg"})


def make_registry() -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.register("stage_image", StandInPayload, _stand_in_stager)
    registry.register(DELIVER_WEBHOOK, DeliverPayload, deliver_webhook)
    return registry


RunWorker = Callable[..., Awaitable[int]]


async def drain(db: Database, settings: Settings | None = None) -> int:
    """Run every runnable job to the end (burst mode); the number of jobs run."""
    chosen = settings or db.settings
    worker = Worker(
        db,
        make_storage(chosen),
        chosen,
        registry=make_registry(),
        burst=True,
        listen=False,
        rescue=False,
    )
    await worker.run()
    return worker.processed


@pytest.fixture
def run_worker(pg_committed_db: Database) -> RunWorker:
    """``await run_worker()`` drains the queue of the committing PostgreSQL database."""

    async def run(settings: Settings | None = None) -> int:
        return await drain(pg_committed_db, settings)

    return run


async def staged_image_job(db: Database, project_id: str, *, fail: bool = False) -> uuid.UUID:
    """An image in the project with a queued staging job (run by the stand-in stager)."""
    async with db.transaction() as session:
        project = await session.get(Project, uuid.UUID(project_id))
        assert project is not None
        image = await make_image(session, project)
        await enqueue(session, type="stage_image", payload={"fail": fail}, image_id=image.id)
        return image.id
