"""State changes of claimed jobs: leases, backoff, release, rescue, admin retry."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_image, make_project, make_user
from vstage.errors import Conflict, NotFound
from vstage.models import Image, ImageStatus, Job, JobStatus
from vstage.queue import JobResult, enqueue
from vstage.queue.claim import claim
from vstage.queue.errors import Failure
from vstage.queue.rescue import rescue_stale
from vstage.queue.transitions import (
    Outcome,
    RetryPolicy,
    complete,
    fail,
    release,
    retry_failed,
)

POLICY = RetryPolicy(base_seconds=10, max_seconds=100)


class RecordingRefund:
    """Test double of the billing refund hook: remembers every call."""

    def __init__(self) -> None:
        self.calls: list[uuid.UUID] = []

    async def __call__(self, session: AsyncSession, image_id: uuid.UUID) -> bool:
        self.calls.append(image_id)
        return True


async def _queued_image_job(session: AsyncSession, max_attempts: int = 3) -> tuple[Image, Job]:
    user = await make_user(session)
    image = await make_image(session, await make_project(session, user))
    job = await enqueue(
        session, type="stage_image", payload={}, image_id=image.id, max_attempts=max_attempts
    )
    return image, job


async def _reload(session: AsyncSession, job: Job, image: Image) -> tuple[Job, Image]:
    j = await session.get(Job, job.id, populate_existing=True)
    i = await session.get(Image, image.id, populate_existing=True)
    assert j is not None
    assert i is not None
    return j, i


async def _age_heartbeat(session: AsyncSession, job_id: uuid.UUID, seconds: float) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(heartbeat_at=text(f"statement_timestamp() - interval '{seconds} seconds'"))
    )


async def test_completion_applies_the_result_to_job_and_image(session: AsyncSession) -> None:
    image, job = await _queued_image_job(session)
    (lease,) = await claim(session, "w1")
    applied: list[bool] = []

    async def apply(s: AsyncSession) -> None:
        applied.append(True)

    result = JobResult(data={"seed": 42}, image={"staged_url": "u/x/staged.jpg"}, apply=apply)
    assert await complete(session, lease, result, progress={"step": 3, "total": 3})

    job, image = await _reload(session, job, image)
    assert job.status == "completed"
    assert job.result_json == {"seed": 42}
    assert job.progress_json == {"step": 3, "total": 3}
    assert job.finished_at is not None
    assert image.status == ImageStatus.ready
    assert image.staged_url == "u/x/staged.jpg"
    assert applied == [True]


async def test_a_worker_that_lost_its_job_to_the_rescuer_cannot_complete_it(
    session: AsyncSession,
) -> None:
    image, job = await _queued_image_job(session)
    (stale,) = await claim(session, "presumed-dead")
    await _age_heartbeat(session, job.id, 120)
    report = await rescue_stale(
        session,
        stale_after=timedelta(seconds=60),
        policy=RetryPolicy(0, 0),
        refund=RecordingRefund(),
    )
    assert report.requeued == [job.id]
    (fresh,) = await claim(session, "alive")
    applied: list[str] = []

    async def apply(s: AsyncSession) -> None:
        applied.append("stale")

    # The old worker wakes up and reports success: nothing happens.
    assert not await complete(session, stale, JobResult(data={"by": "stale"}, apply=apply))
    assert (
        await fail(session, stale, Failure(True, "x"), policy=POLICY, refund=RecordingRefund())
        == Outcome.lost
    )
    assert not await release(session, stale)
    assert applied == []
    # The new owner completes it, once.
    assert await complete(session, fresh, JobResult(data={"by": "alive"}))
    assert not await complete(session, fresh, JobResult(data={"by": "again"}))
    job, image = await _reload(session, job, image)
    assert (job.status, job.result_json, job.attempts) == ("completed", {"by": "alive"}, 2)


async def test_the_same_worker_reclaiming_a_rescued_job_gets_a_new_lease(
    session: AsyncSession,
) -> None:
    _, job = await _queued_image_job(session)
    (first,) = await claim(session, "w1")
    await _age_heartbeat(session, job.id, 120)
    await rescue_stale(
        session,
        stale_after=timedelta(seconds=60),
        policy=RetryPolicy(0, 0),
        refund=RecordingRefund(),
    )
    (second,) = await claim(session, "w1")
    assert not await complete(session, first, JobResult())
    assert await complete(session, second, JobResult())


async def test_transient_failures_back_off_exponentially_via_run_after(
    session: AsyncSession,
) -> None:
    image, job = await _queued_image_job(session, max_attempts=5)
    delays = []
    for attempt in (1, 2, 3):
        await session.execute(
            update(Job).where(Job.id == job.id).values(run_after=text("statement_timestamp()"))
        )
        (lease,) = await claim(session, "w1")
        assert lease.attempts == attempt
        outcome = await fail(
            session,
            lease,
            Failure(False, f"flaky {attempt}"),
            policy=POLICY,
            refund=RecordingRefund(),
        )
        assert outcome == Outcome.retried
        job, image = await _reload(session, job, image)
        assert job.status == "queued"
        assert job.error == f"flaky {attempt}"
        assert image.status == ImageStatus.queued
        now = await session.scalar(text("SELECT statement_timestamp()"))
        delays.append((job.run_after - now).total_seconds())
    # Nominal 10 s, 20 s, 40 s; jitter keeps each in [nominal/2, nominal].
    for delay, nominal in zip(delays, (10, 20, 40), strict=True):
        assert nominal / 2 - 0.5 <= delay <= nominal, delays


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=60)
    rng = random.Random(1)
    samples = [policy.delay(10, rng).total_seconds() for _ in range(200)]
    assert all(30 <= s <= 60 for s in samples)
    assert len({round(s, 3) for s in samples}) > 150  # spread, not lockstep


async def test_the_last_attempts_failure_is_final_and_refunds_once(session: AsyncSession) -> None:
    image, job = await _queued_image_job(session, max_attempts=1)
    (lease,) = await claim(session, "w1")
    refund = RecordingRefund()

    outcome = await fail(
        session, lease, Failure(False, "RuntimeError: boom"), policy=POLICY, refund=refund
    )

    assert outcome == Outcome.failed
    job, image = await _reload(session, job, image)
    assert (job.status, job.error) == ("failed", "RuntimeError: boom")
    assert image.status == ImageStatus.error
    assert image.error is not None
    assert "1 attempt" in image.error
    assert "boom" not in image.error  # internals stay with operators
    assert refund.calls == [image.id]


async def test_a_permanent_failure_is_final_at_once_with_its_user_message(
    session: AsyncSession,
) -> None:
    image, job = await _queued_image_job(session, max_attempts=5)
    (lease,) = await claim(session, "w1")
    failure = Failure(True, "UnsupportedMediaType: GIF", "GIF files are not supported")
    assert (
        await fail(session, lease, failure, policy=POLICY, refund=RecordingRefund())
        == Outcome.failed
    )
    job, image = await _reload(session, job, image)
    assert (job.status, job.attempts) == ("failed", 1)
    assert image.error == "GIF files are not supported"


async def test_release_puts_the_job_back_without_counting_the_attempt(
    session: AsyncSession,
) -> None:
    image, job = await _queued_image_job(session)
    (lease,) = await claim(session, "w1")
    assert await release(session, lease)
    job, image = await _reload(session, job, image)
    assert (job.status, job.attempts, job.heartbeat_at) == ("queued", 0, None)
    assert image.status == ImageStatus.queued
    (again,) = await claim(session, "w2")
    assert again.attempts == 1


async def test_rescue_fails_a_stale_job_on_its_last_attempt(session: AsyncSession) -> None:
    image, job = await _queued_image_job(session, max_attempts=1)
    await claim(session, "dead")
    await _age_heartbeat(session, job.id, 120)
    fresh_image, fresh_job = await _queued_image_job(session)
    await claim(session, "alive")  # heartbeat just now: not touched
    refund = RecordingRefund()

    report = await rescue_stale(
        session, stale_after=timedelta(seconds=60), policy=POLICY, refund=refund
    )

    assert (report.requeued, report.failed) == ([], [job.id])
    job, image = await _reload(session, job, image)
    assert job.status == "failed"
    assert "stopped heartbeating" in (job.error or "")
    assert image.status == ImageStatus.error
    assert refund.calls == [image.id]
    fresh_job, _ = await _reload(session, fresh_job, fresh_image)
    assert fresh_job.status == "processing"


async def test_admin_retry_requeues_a_failed_job_from_scratch(session: AsyncSession) -> None:
    image, job = await _queued_image_job(session, max_attempts=2)
    (lease,) = await claim(session, "w1")
    await fail(session, lease, Failure(True, "bad"), policy=POLICY, refund=RecordingRefund())

    retried = await retry_failed(session, job.id)

    assert (retried.status, retried.attempts, retried.error, retried.worker_id) == (
        JobStatus.queued.value,
        0,
        None,
        None,
    )
    _, image = await _reload(session, job, image)
    assert image.status == ImageStatus.queued
    assert image.error is None
    with pytest.raises(Conflict):
        await retry_failed(session, job.id)
    with pytest.raises(NotFound):
        await retry_failed(session, uuid.uuid4())
