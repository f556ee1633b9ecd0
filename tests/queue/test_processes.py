"""Real worker processes: concurrency, SIGKILL, SIGTERM and crash loops (DESIGN §4)."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.queue.conftest import (
    Processes,
    enqueue_on_image,
    get_job,
    scalar,
    wait_exit,
    wait_until,
)
from vstage.db import Database
from vstage.models import Image, ImageStatus
from vstage.queue import enqueue
from vstage.queue.rescue import rescue_once
from vstage.usage.service import refund as usage_refund


async def _enqueue_many(db: Database, job_type: str, count: int, payload: dict[str, Any]) -> None:
    async with db.transaction() as session:
        for _ in range(count):
            await enqueue(session, type=job_type, payload=payload, image_id=None)


async def _count(db: Database, sql: str, **params: Any) -> int:
    return int(await scalar(db, sql, **params))


async def _claimed_by_someone(db: Database, job_id: uuid.UUID) -> bool:
    return (await get_job(db, job_id)).status == "processing"


async def _handler_started(db: Database, job_id: uuid.UUID) -> bool:
    return await _count(db, "SELECT count(*) FROM test_runs WHERE job_id = :j", j=job_id) > 0


async def _run_32_claimers(qdb: Database, processes: Processes, jobs: int) -> None:
    await _enqueue_many(qdb, "test.effect", jobs, {})
    # 32 rescuers polling every 0.3 s would only add noise here: nothing gets stale.
    quiet = {"VSTAGE_JOB_RESCUE_INTERVAL_SECONDS": "5"}
    claimers = [processes.spawn("-m", "tests.queue.claimers", "8", env=quiet) for _ in range(4)]

    async def drained() -> bool:
        return await _count(qdb, "SELECT count(*) FROM jobs WHERE status = 'completed'") == jobs

    await wait_until(drained, seconds=60, what=f"{jobs} jobs to complete\n{processes.output()}")
    for proc in claimers:
        proc.send_signal(signal.SIGTERM)
    assert [await wait_exit(p, 15) for p in claimers] == [0, 0, 0, 0], processes.output()

    # Every job ran exactly once: one execution, one effect (unique), one attempt.
    assert await _count(qdb, "SELECT count(*) FROM test_runs") == jobs
    assert await _count(qdb, "SELECT count(DISTINCT job_id) FROM test_runs") == jobs
    assert await _count(qdb, "SELECT count(*) FROM test_effects") == jobs
    assert await _count(qdb, "SELECT count(*) FROM jobs WHERE attempts <> 1") == 0
    assert await _count(qdb, "SELECT count(*) FROM jobs WHERE status <> 'completed'") == 0
    # …and the work really was spread over many claim loops in all four processes.
    workers = await _count(qdb, "SELECT count(DISTINCT worker_id) FROM jobs")
    assert workers >= 16, workers
    pids = await _count(qdb, "SELECT count(DISTINCT split_part(worker_id, ':', 2)) FROM jobs")
    assert pids == 4


async def test_32_claimers_in_4_processes_complete_1000_jobs_exactly_once(
    qdb: Database, processes: Processes
) -> None:
    await _run_32_claimers(qdb, processes, 1000)


async def test_a_job_whose_worker_is_sigkilled_is_rescued_and_completed_once(
    qdb: Database, processes: Processes
) -> None:
    # First attempt hangs (until the kill); the next one completes.
    job_id, image_id = await enqueue_on_image(
        qdb, "test.effect", {"sleep": 60, "sleep_attempts": [1]}
    )
    doomed = processes.worker()
    await wait_until(lambda: _handler_started(qdb, job_id), what="the first attempt")
    first_owner = (await get_job(qdb, job_id)).worker_id

    doomed.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert await wait_exit(doomed, 5) == -signal.SIGKILL
    survivor = processes.worker()

    async def completed() -> bool:
        return (await get_job(qdb, job_id)).status == "completed"

    await wait_until(completed, seconds=20, what=f"completion\n{processes.output()}")
    took = time.monotonic() - killed_at
    timeout = qdb.settings.job_heartbeat_timeout_seconds
    assert took < timeout + 5, took  # rescued soon after the heartbeat went stale

    job = await get_job(qdb, job_id)
    assert job.attempts == 2
    assert job.worker_id != first_owner
    assert await _count(qdb, "SELECT count(*) FROM test_runs WHERE job_id = :j", j=job_id) == 2
    assert await _count(qdb, "SELECT count(*) FROM test_effects WHERE job_id = :j", j=job_id) == 1
    async with qdb.sessionmaker() as session:
        image = await session.get(Image, image_id)
        assert image is not None
        assert image.status == ImageStatus.ready
    survivor.send_signal(signal.SIGTERM)
    assert await wait_exit(survivor, 10) == 0


async def test_sigterm_lets_the_running_job_finish_and_exits_0(
    qdb: Database, processes: Processes
) -> None:
    job_id, _ = await enqueue_on_image(qdb, "test.effect", {"sleep": 1.0})
    worker = processes.worker("--grace", "10")
    await wait_until(lambda: _claimed_by_someone(qdb, job_id), what="the claim")
    await _enqueue_many(qdb, "test.effect", 3, {})  # must stay queued: no claims after SIGTERM

    worker.send_signal(signal.SIGTERM)

    assert await wait_exit(worker, 10) == 0, processes.output()
    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("completed", 1)
    assert await _count(qdb, "SELECT count(*) FROM test_effects") == 1
    assert await _count(qdb, "SELECT count(*) FROM jobs WHERE status = 'queued'") == 3
    assert await _count(qdb, "SELECT count(*) FROM jobs WHERE status = 'processing'") == 0


async def test_sigterm_releases_a_job_that_outlives_the_grace_period(
    qdb: Database, processes: Processes, tmp_path: Path
) -> None:
    block = tmp_path / "block"
    block.touch()  # the handler's thread is stuck until this file goes away
    job_id, image_id = await enqueue_on_image(qdb, "test.effect", {"block_file": str(block)})
    worker = processes.worker("--grace", "0.5")
    await wait_until(lambda: _claimed_by_someone(qdb, job_id), what="the claim")

    worker.send_signal(signal.SIGTERM)

    assert await wait_exit(worker, 10) == 0, processes.output()
    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("queued", 0)  # back, and not counted as an attempt
    async with qdb.sessionmaker() as session:
        image = await session.get(Image, image_id)
        assert image is not None
        assert image.status == ImageStatus.queued
    assert await _count(qdb, "SELECT count(*) FROM test_effects") == 0

    # Nothing was lost: the next worker does the job, once.
    block.unlink()
    successor = processes.worker()

    async def completed() -> bool:
        return (await get_job(qdb, job_id)).status == "completed"

    await wait_until(completed, what=f"completion\n{processes.output()}")
    assert (await get_job(qdb, job_id)).attempts == 1
    assert await _count(qdb, "SELECT count(*) FROM test_effects") == 1
    successor.send_signal(signal.SIGTERM)
    assert await wait_exit(successor, 10) == 0


class RefundSpy:
    def __init__(self) -> None:
        self.calls: list[uuid.UUID] = []

    async def __call__(self, session: Any, image_id: uuid.UUID) -> bool:
        self.calls.append(image_id)
        return await usage_refund(session, image_id)


async def test_a_job_that_kills_its_worker_every_time_fails_after_max_attempts(
    qdb: Database, processes: Processes
) -> None:
    job_id, image_id = await enqueue_on_image(qdb, "test.crash", {}, charged=True)
    refund = RefundSpy()
    # Workers without their own rescuer, so that this test's rescuer (with the spy)
    # is the one that finally fails the job.
    no_rescue = {"VSTAGE_JOB_RESCUE_INTERVAL_SECONDS": "0"}
    crashes = 0
    proc = processes.worker(env=no_rescue)
    deadline = time.monotonic() + 40
    while (await get_job(qdb, job_id)).status != "failed":
        assert time.monotonic() < deadline, processes.output()
        if proc.poll() is not None:
            assert proc.returncode == 13  # the handler's os._exit
            crashes += 1
            proc = processes.worker(env=no_rescue)
        await rescue_once(qdb, qdb.settings, refund)
        await asyncio.sleep(0.1)

    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("failed", 3)
    assert "stopped heartbeating" in (job.error or "")
    assert crashes == 3 or (crashes == 2 and proc.poll() == 13)
    async with qdb.sessionmaker() as session:
        image = await session.get(Image, image_id)
        assert image is not None
        assert image.status == ImageStatus.error
        assert image.error is not None
    assert refund.calls == [image_id]
    assert await scalar(qdb, "SELECT refunded_at IS NOT NULL FROM usage") is True
    # Later rescues find nothing more to do or refund.
    await rescue_once(qdb, qdb.settings, refund)
    assert refund.calls == [image_id]
    assert await _count(qdb, "SELECT count(*) FROM test_runs") == 0  # crash precedes effects


@pytest.mark.slow
async def test_32_claimers_drain_5000_jobs_exactly_once(
    qdb: Database, processes: Processes
) -> None:
    await _run_32_claimers(qdb, processes, 5000)


async def test_vstage_rescue_requeues_stale_jobs_once(qdb: Database, processes: Processes) -> None:
    job_id, _ = await enqueue_on_image(qdb, "test.effect", {})
    async with qdb.transaction() as session:
        await session.execute(
            text(
                "UPDATE jobs SET status = 'processing', attempts = 1, worker_id = 'gone',"
                " heartbeat_at = now() - interval '1 hour' WHERE id = :j"
            ),
            {"j": job_id},
        )
    cli = processes.spawn("-m", "vstage", "rescue")
    assert await wait_exit(cli, 20) == 0, processes.output()
    assert "requeued 1 job(s), failed 0 job(s)" in processes.output()
    assert (await get_job(qdb, job_id)).status == "queued"


async def test_a_burst_worker_drains_its_types_and_exits_0(
    qdb: Database, processes: Processes
) -> None:
    await _enqueue_many(qdb, "test.noop", 5, {})
    await _enqueue_many(qdb, "test.effect", 2, {})

    burst = processes.worker("--burst", "--types", "test.noop", "--concurrency", "3")

    assert await wait_exit(burst, 20) == 0, processes.output()
    assert await _count(qdb, "SELECT count(*) FROM jobs WHERE status = 'completed'") == 5
    assert (
        await _count(
            qdb, "SELECT count(*) FROM jobs WHERE type = 'test.effect' AND status = 'queued'"
        )
        == 2
    )


async def test_the_worker_refuses_types_it_has_no_handler_for(processes: Processes) -> None:
    proc = processes.worker("--types", "paint_walls")
    assert await wait_exit(proc, 20) == 1
    assert "no handler for job type(s) paint_walls" in processes.output()
