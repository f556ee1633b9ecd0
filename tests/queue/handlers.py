"""Job types for the queue tests, registered in the default registry on import.

Worker processes load them with ``vstage worker --handlers-module tests.queue.handlers``.
Their side effects go to two tables the tests create (see ``conftest.py``):
``test_runs`` gets a row every time a handler *starts* (no constraint: it counts
executions) and ``test_effects`` a row when it *finishes*, with the job id as primary
key: a job whose effect were produced twice would hit the unique constraint.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import text

from vstage.errors import UnsupportedMediaType
from vstage.queue import JobContext, JobResult, PermanentJobError, handler


class EffectPayload(BaseModel):
    sleep: float = 0.0
    """Seconds to ``await asyncio.sleep`` before producing the effect…"""
    sleep_attempts: list[int] | None = None
    """…only on these attempts (``None``: on every attempt)."""
    block_file: str | None = None
    """Block a handler thread while this file exists (up to 30 s): uninterruptible work."""
    progress_steps: int = 0
    step_seconds: float = 0.0


async def _record_run(ctx: JobContext) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(
            text("INSERT INTO test_runs (job_id, worker_id, attempt) VALUES (:j, :w, :a)"),
            {"j": ctx.job.id, "w": ctx.job.worker_id, "a": ctx.job.attempts},
        )


def _block_while(path: Path) -> None:
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


@handler("test.effect", EffectPayload)
async def effect(ctx: JobContext, payload: EffectPayload) -> JobResult:
    await _record_run(ctx)
    if payload.sleep and (
        payload.sleep_attempts is None or ctx.job.attempts in payload.sleep_attempts
    ):
        await asyncio.sleep(payload.sleep)
    if payload.block_file:
        await ctx.run_in_thread(_block_while, Path(payload.block_file))
    for step in range(1, payload.progress_steps + 1):
        await ctx.run_in_thread(time.sleep, payload.step_seconds)
        ctx.progress(step, payload.progress_steps)
    async with ctx.db.transaction() as session:
        await session.execute(
            text("INSERT INTO test_effects (job_id, worker_id) VALUES (:j, :w)"),
            {"j": ctx.job.id, "w": ctx.job.worker_id},
        )
    return JobResult(data={"worker_id": ctx.job.worker_id, "attempt": ctx.job.attempts})


class FailPayload(BaseModel):
    message: str = "boom"
    kind: str = "transient"
    """``transient`` (RuntimeError), ``permanent`` (PermanentJobError) or ``media`` (415)."""
    fail_attempts: int = 1000
    """Fail on attempts up to this one, then succeed."""


@handler("test.fail", FailPayload)
async def fail(ctx: JobContext, payload: FailPayload) -> JobResult:
    if ctx.job.attempts <= payload.fail_attempts:
        if payload.kind == "permanent":
            raise PermanentJobError(payload.message)
        if payload.kind == "media":
            raise UnsupportedMediaType(payload.message)
        raise RuntimeError(payload.message)
    return JobResult(data={"succeeded_on": ctx.job.attempts}, image={"staged_url": "out.jpg"})


class Empty(BaseModel):
    pass


@handler("test.crash", Empty)
async def crash(ctx: JobContext, payload: Empty) -> None:
    """Kills its worker process outright, like a segfault or the OOM killer would."""
    os._exit(13)


class DevicePayload(BaseModel):
    seconds: float = 0.2


_on_device = 0
max_on_device = 0


def _use_device(seconds: float) -> None:
    global _on_device, max_on_device
    _on_device += 1
    max_on_device = max(max_on_device, _on_device)
    time.sleep(seconds)
    _on_device -= 1


@handler("test.gpu", DevicePayload, gpu=True)
async def gpu(ctx: JobContext, payload: DevicePayload) -> None:
    await ctx.run_in_thread(_use_device, payload.seconds)


@handler("test.noop", Empty)
async def noop(ctx: JobContext, payload: Empty) -> JobResult:
    """Succeeds at once; its image gets a (pretend) staged file."""
    return JobResult(data={"ok": True}, image={"staged_url": "staged.jpg"})
