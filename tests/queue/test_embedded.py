"""Embedded mode: the in-process worker of ``vstage serve`` on SQLite."""

from __future__ import annotations

import uuid

from tests.factories import make_image, make_project, make_user
from tests.queue.conftest import get_job, wait_until
from vstage.app import create_app
from vstage.config import Settings
from vstage.db import Database
from vstage.models import Image, ImageStatus
from vstage.queue import Worker, enqueue


async def _enqueue(db: Database, job_type: str, payload: dict[str, object]) -> uuid.UUID:
    async with db.transaction() as session:
        user = await make_user(session)
        image = await make_image(session, await make_project(session, user))
        return (await enqueue(session, type=job_type, payload=payload, image_id=image.id)).id


async def test_the_app_runs_jobs_in_process_and_stops_its_worker(
    sqlite_settings: Settings,
) -> None:
    # A 30 s poll: only the in-process wake-up (and the retry's due time) can explain
    # a prompt pick-up.
    settings = sqlite_settings.model_copy(update={"worker_poll_seconds": 30.0})
    db = Database(settings)
    app = create_app(settings, database=db, start_worker=True)
    try:
        async with app.router.lifespan_context(app):
            worker: Worker = app.state.worker
            first = await _enqueue(db, "test.noop", {})
            retried = await _enqueue(db, "test.fail", {"fail_attempts": 1})

            async def both_done() -> bool:
                return {(await get_job(db, j)).status for j in (first, retried)} == {"completed"}

            took = await wait_until(both_done, seconds=10, what="both jobs")
            assert took < 5
            job = await get_job(db, first)
            async with db.sessionmaker() as session:
                image = await session.get(Image, job.image_id)
                assert image is not None
                assert (image.status, image.staged_url) == (ImageStatus.ready, "staged.jpg")
            assert (await get_job(db, retried)).attempts == 2
        assert worker.processed == 3  # the lifespan ended with the worker stopped
    finally:
        await db.dispose()
