"""Enqueue and claim: transactional, ordered, never the same job twice, index-served."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_image, make_project, make_user
from tests.queue.conftest import scalar
from vstage.db import Database
from vstage.models import Image, ImageStatus, Job, JobStatus, utcnow
from vstage.queue import enqueue
from vstage.queue.claim import claim, claim_params, claim_statement, next_due
from vstage.queue.listen import asyncpg_dsn
from vstage.queue.notify import CHANNEL


async def _image(session: AsyncSession) -> Image:
    user = await make_user(session)
    return await make_image(session, await make_project(session, user))


async def test_enqueue_is_part_of_the_callers_transaction(qdb: Database) -> None:
    job_id: uuid.UUID | None = None
    try:
        async with qdb.transaction() as session:
            image = await _image(session)
            job = await enqueue(session, type="test.effect", payload={}, image_id=image.id)
            job_id = job.id
            raise RuntimeError("the upload failed after the job was enqueued")
    except RuntimeError:
        pass
    assert job_id is not None
    assert await scalar(qdb, "SELECT count(*) FROM jobs") == 0


async def test_enqueue_stores_a_typed_payload_and_defaults(session: AsyncSession) -> None:
    from pydantic import BaseModel

    class Payload(BaseModel):
        seed: int
        style: str

    image = await _image(session)
    job = await enqueue(
        session, type="stage_image", payload=Payload(seed=7, style="modern"), image_id=image.id
    )
    assert job.payload_json == {"seed": 7, "style": "modern"}
    raw = await enqueue(session, type="x", payload={"image": image.id}, image_id=None)
    assert raw.payload_json == {"image": str(image.id)}
    assert job.status == JobStatus.queued.value
    assert job.attempts == 0
    assert job.max_attempts == 3
    assert job.run_after <= job.created_at + timedelta(seconds=1)


async def test_notify_reaches_listeners_only_after_commit(qdb: Database) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(asyncpg_dsn(qdb.settings.database_url))
    try:
        await listener.add_listener(CHANNEL, lambda *args: received.put_nowait(args[-1]))
        async with qdb.transaction() as session:
            await enqueue(session, type="test.effect", payload={}, image_id=None)
            await asyncio.sleep(0.2)
            assert received.empty(), "a worker must not wake for a job it cannot see yet"
        assert await asyncio.wait_for(received.get(), timeout=5) == "test.effect"
    finally:
        await listener.close()


async def test_claim_takes_the_oldest_due_jobs_and_marks_them_processing(
    session: AsyncSession,
) -> None:
    image = await _image(session)
    now = utcnow()
    newer = await enqueue(session, type="a", payload={}, image_id=None, run_after=now)
    older = await enqueue(
        session, type="a", payload={}, image_id=image.id, run_after=now - timedelta(minutes=1)
    )
    later = await enqueue(
        session, type="a", payload={}, image_id=None, run_after=timedelta(hours=1)
    )

    (first,) = await claim(session, "w1", limit=1)
    (second,) = await claim(session, "w2", limit=5)

    assert (first.id, second.id) == (older.id, newer.id)
    assert (first.worker_id, first.attempts, first.image_id) == ("w1", 1, image.id)
    job = await session.get(Job, older.id, populate_existing=True)
    assert job is not None
    assert job.status == JobStatus.processing.value
    assert (job.worker_id, job.attempts) == ("w1", 1)
    assert job.started_at is not None
    assert job.heartbeat_at is not None
    refreshed = await session.get(Image, image.id, populate_existing=True)
    assert refreshed is not None
    assert refreshed.status == ImageStatus.processing
    # The delayed job stays queued, and an idle worker knows when to look again.
    assert await claim(session, "w1", limit=5) == []
    assert await next_due(session) == later.run_after


async def test_claim_honours_the_type_filter(session: AsyncSession) -> None:
    await enqueue(session, type="declutter", payload={}, image_id=None)
    staged = await enqueue(session, type="stage_image", payload={}, image_id=None)
    claimed = await claim(session, "w1", limit=5, types=["stage_image"])
    assert [j.id for j in claimed] == [staged.id]
    assert await claim(session, "w1", limit=5, types=[]) == []


async def test_concurrent_claims_skip_each_others_rows(qdb: Database) -> None:
    async with qdb.transaction() as session:
        ids = {
            (await enqueue(session, type="test.effect", payload={}, image_id=None)).id
            for _ in range(6)
        }
    # Two claim transactions open at the same time: the second neither waits for the
    # first's row locks nor returns any of its rows.
    async with qdb.transaction() as first, qdb.transaction() as second:
        a = await claim(first, "w1", limit=4)
        b = await asyncio.wait_for(claim(second, "w2", limit=4), timeout=5)
    assert len(a) == 4
    assert len(b) == 2
    assert {j.id for j in a} | {j.id for j in b} == ids
    assert not {j.id for j in a} & {j.id for j in b}


async def test_claim_uses_the_partial_index_on_a_large_queue(session: AsyncSession) -> None:
    # 60,000 finished jobs and 20,000 queued ones, as after weeks of busy use.
    await session.execute(
        text(
            "INSERT INTO jobs (id, type, payload_json, status, created_at, run_after, attempts,"
            " max_attempts) SELECT gen_random_uuid(), 'stage_image', '{}'::jsonb,"
            " CASE WHEN g % 4 = 0 THEN 'queued' ELSE 'completed' END,"
            " now() - g * interval '1 second', now() - g * interval '1 second', 1, 3"
            " FROM generate_series(1, 80000) AS g"
        )
    )
    await session.execute(text("ANALYZE jobs"))
    stmt: Any = claim_statement("postgresql", filtered=False)
    bound = stmt.params(claim_params("postgresql", "w1", 16, None))
    sql = bound.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})

    plan = "\n".join((await session.execute(text(f"EXPLAIN {sql}"))).scalars())

    assert "Index Scan using ix_jobs_claim" in plan, plan
    assert "Sort" not in plan, plan  # reads 16 index entries, never sorts the backlog
