"""A worker in this process against real PostgreSQL: outcomes, retries, progress, stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.queue import handlers
from tests.queue.conftest import enqueue_on_image, get_job, scalar, wait_until
from vstage.db import Database
from vstage.models import Image, ImageStatus, Job, utcnow
from vstage.queue import Worker
from vstage.storage.base import Storage
from vstage.usage.service import refund as usage_refund


async def _image(db: Database, image_id: uuid.UUID) -> Image:
    async with db.sessionmaker() as session:
        image = await session.get(Image, image_id)
        assert image is not None
        return image


async def _drain(worker: Worker, job_id: uuid.UUID, db: Database, seconds: float = 10) -> Job:
    """Step the worker until the job is completed or failed (retries are due ~50 ms later)."""

    async def finished() -> bool:
        if (await get_job(db, job_id)).status in ("completed", "failed"):
            return True
        await worker.run_once()
        return False

    await wait_until(finished, seconds=seconds, what=f"job {job_id} to finish")
    return await get_job(db, job_id)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop(grace_seconds=0)
        await asyncio.wait_for(task, timeout=10)


class RefundSpy:
    """The refund hook test double; delegates to the real refund so the ledger changes too."""

    def __init__(self) -> None:
        self.calls: list[uuid.UUID] = []

    async def __call__(self, session: AsyncSession, image_id: uuid.UUID) -> bool:
        self.calls.append(image_id)
        return await usage_refund(session, image_id)


def _samples(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_job_runs_once_and_its_image_becomes_ready(qdb: Database, storage: Storage) -> None:
    job_id, image_id = await enqueue_on_image(qdb, "test.effect")
    before = _samples("vstage_job_duration_seconds_count", type="test.effect", outcome="completed")

    assert await Worker(qdb, storage, qdb.settings).run_once() == 1

    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts, job.error) == ("completed", 1, None)
    assert job.result_json == {"worker_id": job.worker_id, "attempt": 1}
    assert (await _image(qdb, image_id)).status == ImageStatus.ready
    assert await scalar(qdb, "SELECT count(*) FROM test_effects WHERE job_id = :j", j=job_id) == 1
    after = _samples("vstage_job_duration_seconds_count", type="test.effect", outcome="completed")
    assert after == before + 1


async def test_a_transient_error_is_retried_and_then_succeeds(
    qdb: Database, storage: Storage
) -> None:
    job_id, image_id = await enqueue_on_image(qdb, "test.fail", {"fail_attempts": 1})
    worker = Worker(qdb, storage, qdb.settings)

    await worker.run_once()
    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.error is not None
    assert job.error.startswith("RuntimeError: boom")
    assert job.run_after > job.created_at

    job = await _drain(worker, job_id, qdb)
    assert (job.status, job.attempts, job.error) == ("completed", 2, None)
    image = await _image(qdb, image_id)
    assert (image.status, image.staged_url) == (ImageStatus.ready, "out.jpg")


async def test_permanent_errors_fail_at_once_with_a_message_for_the_user(
    qdb: Database, storage: Storage
) -> None:
    ours, ours_image = await enqueue_on_image(
        qdb, "test.fail", {"kind": "permanent", "message": "the room is too dark"}
    )
    media, media_image = await enqueue_on_image(
        qdb, "test.fail", {"kind": "media", "message": "GIF is not supported"}
    )
    worker = Worker(qdb, storage, qdb.settings, concurrency=2)

    assert await worker.run_once() == 2

    for job_id, image_id, message in (
        (ours, ours_image, "the room is too dark"),
        (media, media_image, "GIF is not supported"),
    ):
        job = await get_job(qdb, job_id)
        assert (job.status, job.attempts) == ("failed", 1)
        assert message in (job.error or "")
        image = await _image(qdb, image_id)
        assert (image.status, image.error) == (ImageStatus.error, message)


async def test_unknown_types_and_bad_payloads_fail_with_a_clear_error(
    qdb: Database, storage: Storage
) -> None:
    unknown, unknown_image = await enqueue_on_image(qdb, "paint_walls")
    bad, _ = await enqueue_on_image(qdb, "test.effect", {"sleep": "a while"})
    worker = Worker(qdb, storage, qdb.settings, concurrency=2)

    await worker.run_once()

    job = await get_job(qdb, unknown)
    assert (job.status, job.attempts) == ("failed", 1)
    assert "no handler registered for job type 'paint_walls'" in (job.error or "")
    assert (await _image(qdb, unknown_image)).status == ImageStatus.error
    job = await get_job(qdb, bad)
    assert (job.status, job.attempts) == ("failed", 1)
    assert "ValidationError" in (job.error or "")


async def test_a_poison_job_fails_after_max_attempts_and_is_refunded_once(
    qdb: Database, storage: Storage
) -> None:
    job_id, image_id = await enqueue_on_image(qdb, "test.fail", {"message": "boom"}, charged=True)
    refund = RefundSpy()
    worker = Worker(qdb, storage, qdb.settings, refund=refund)

    job = await _drain(worker, job_id, qdb)

    assert (job.status, job.attempts) == ("failed", 3)
    assert (job.error or "").startswith("RuntimeError: boom")
    image = await _image(qdb, image_id)
    assert image.status == ImageStatus.error
    assert image.error is not None
    assert "3 attempts" in image.error
    assert refund.calls == [image_id]
    refunded = await scalar(
        qdb, "SELECT refunded_at IS NOT NULL FROM usage WHERE image_id = :i", i=image_id
    )
    assert refunded is True
    assert await worker.run_once() == 0  # failed is final: nothing left to run


async def test_progress_is_stored_while_the_job_runs(qdb: Database, storage: Storage) -> None:
    job_id, _ = await enqueue_on_image(
        qdb, "test.effect", {"progress_steps": 6, "step_seconds": 0.1}
    )
    seen: list[int] = []

    async def watch() -> None:
        while True:
            progress = (await get_job(qdb, job_id)).progress_json
            if progress and (not seen or seen[-1] != progress["step"]):
                seen.append(progress["step"])
            await asyncio.sleep(0.03)

    watcher = asyncio.create_task(watch())
    await Worker(qdb, storage, qdb.settings).run_once()
    watcher.cancel()

    job = await get_job(qdb, job_id)
    assert job.progress_json is not None
    assert (job.progress_json["step"], job.progress_json["total"]) == (6, 6)
    assert any(0 < step < 6 for step in seen), seen  # visible mid-run, not only at the end


async def test_gpu_handlers_take_turns_on_the_device(qdb: Database, storage: Storage) -> None:
    handlers.max_on_device = 0
    for _ in range(3):
        await enqueue_on_image(qdb, "test.gpu", {"seconds": 0.15})

    assert await Worker(qdb, storage, qdb.settings, concurrency=3).run_once() == 3

    assert handlers.max_on_device == 1
    assert await scalar(qdb, "SELECT count(*) FROM jobs WHERE status = 'completed'") == 3


async def test_heartbeats_keep_a_long_job_from_being_rescued(
    qdb: Database, storage: Storage
) -> None:
    # Runs longer than the 1.5 s heartbeat timeout, with the rescuer active all along.
    job_id, _ = await enqueue_on_image(qdb, "test.effect", {"sleep": 2.2})

    async with running(Worker(qdb, storage, qdb.settings)):
        await wait_until(
            lambda: _status_is(qdb, job_id, "completed"), seconds=10, what="completion"
        )

    job = await get_job(qdb, job_id)
    assert job.attempts == 1
    assert await scalar(qdb, "SELECT count(*) FROM test_runs WHERE job_id = :j", j=job_id) == 1


async def _status_is(db: Database, job_id: uuid.UUID, status: str) -> bool:
    return (await get_job(db, job_id)).status == status


async def test_an_idle_worker_wakes_on_notify_long_before_its_poll(
    qdb: Database, storage: Storage
) -> None:
    slow_poll = qdb.settings.model_copy(update={"worker_poll_seconds": 30.0})
    async with running(Worker(qdb, storage, slow_poll)):
        await asyncio.sleep(0.5)  # idle, sleeping until a wake-up or the 30 s poll
        job_id, _ = await enqueue_on_image(qdb, "test.effect")
        took = await wait_until(lambda: _status_is(qdb, job_id, "completed"), seconds=10)
    assert took < 5


async def test_stopping_releases_a_job_that_outlives_the_grace_period(
    qdb: Database, storage: Storage, tmp_path: Path
) -> None:
    block = tmp_path / "block"
    block.touch()
    job_id, image_id = await enqueue_on_image(qdb, "test.effect", {"block_file": str(block)})
    worker = Worker(qdb, storage, qdb.settings, grace_seconds=0.3)
    task = asyncio.create_task(worker.run())
    await wait_until(lambda: _status_is(qdb, job_id, "processing"), what="the claim")

    worker.stop()
    await asyncio.wait_for(task, timeout=5)

    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("queued", 0)
    assert (await _image(qdb, image_id)).status == ImageStatus.queued
    block.unlink()  # let the abandoned thread end; the job runs again, from scratch
    await wait_until(lambda: _thread_done(worker), what="the abandoned thread")
    assert await Worker(qdb, storage, qdb.settings).run_once() == 1
    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("completed", 1)


async def _thread_done(worker: Worker) -> bool:
    return worker.threads_running == 0


async def test_a_worker_abandons_a_job_that_is_no_longer_its_own(
    qdb: Database, storage: Storage
) -> None:
    job_id, _ = await enqueue_on_image(qdb, "test.effect", {"sleep": 30})
    worker = Worker(qdb, storage, qdb.settings)
    async with running(worker):
        await wait_until(lambda: _status_is(qdb, job_id, "processing"), what="the claim")
        # As if the rescuer had requeued it while this worker looked dead.
        async with qdb.transaction() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="queued", run_after=utcnow() + timedelta(hours=1))
            )
        await wait_until(lambda: _idle(worker), seconds=5, what="the worker to drop the job")
    assert await scalar(qdb, "SELECT count(*) FROM test_effects") == 0
    assert (await get_job(qdb, job_id)).status == "queued"


async def _idle(worker: Worker) -> bool:
    return worker.processed == 1


async def test_a_lost_listen_connection_is_reopened_and_catches_up(
    qdb: Database, storage: Storage
) -> None:
    listeners = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'vstage-worker-listen'"
        " AND datname = current_database()"
    )
    slow_poll = qdb.settings.model_copy(update={"worker_poll_seconds": 30.0})
    async with running(Worker(qdb, storage, slow_poll)):
        await wait_until(lambda: _has_rows(qdb, listeners), what="the LISTEN connection")
        old = await scalar(qdb, listeners)
        await scalar(qdb, "SELECT pg_terminate_backend(:pid)", pid=old)
        # Enqueued while nobody listens: found when the listener is back, not after 30 s.
        job_id, _ = await enqueue_on_image(qdb, "test.effect")
        took = await wait_until(lambda: _status_is(qdb, job_id, "completed"), seconds=10)
        assert took < 5
        assert await scalar(qdb, listeners) not in (None, old)


async def _has_rows(db: Database, sql: str) -> bool:
    return await scalar(db, sql) is not None
