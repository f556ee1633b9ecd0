"""Queue handlers for the staging engine: ``stage_image`` and ``declutter``.

Each reads the image's original (and optional user mask) from storage, runs the engine
in a thread (the worker keeps heartbeating; GPU handlers take turns on the device),
writes the output and its mask under the image's fixed keys (``staged.<ext>``,
``mask.png``: the same for every attempt, so a re-run overwrites instead of leaving
copies), and hands back the engine's full parameter record plus timings as the job
result. The image row (``staged_url``, ``mask_url``, ``ready``) is updated by the
worker in the transaction that completes the job, so it changes only if this worker
still owns the job.

Bad photos, unknown rooms or styles and a missing model raise the engine's
``InvalidInput``/``UnsupportedMediaType``/``ModelNotFound``, which the queue treats as
permanent: the job fails at once with the engine's message for the user.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from vstage.config import Settings
from vstage.models import Image, Project
from vstage.queue import JobContext, JobResult, PermanentJobError, handler
from vstage.staging.engine import StageParams, StageResult, StagingEngine
from vstage.staging.metrics import observe_render
from vstage.storage import storage_key

STAGE_IMAGE = "stage_image"
DECLUTTER = "declutter"


class StageImagePayload(BaseModel):
    """What ``POST /v1/projects/{id}/images`` (and restage) records on the job."""

    model_config = ConfigDict(extra="ignore")

    original_key: str
    user_mask_key: str | None = None
    room_type: str
    style: str
    seed: int
    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None
    output_format: Literal["jpeg", "png"] | None = None


class DeclutterPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    original_key: str
    user_mask_key: str | None = None
    seed: int
    output_format: Literal["jpeg", "png"] | None = None


@lru_cache(maxsize=2)
def engine_for(settings: Settings) -> StagingEngine:
    """One engine per worker process (and settings): the pipeline loads once, lazily."""
    return StagingEngine(settings)


async def _owner(ctx: JobContext) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """(user, project, image) ids of the job's image: they make up its storage keys."""
    image_id = ctx.job.image_id
    if image_id is None:
        raise PermanentJobError(f"{ctx.job.type} job without an image")
    async with ctx.db.sessionmaker() as session:
        row = (
            await session.execute(
                select(Project.user_id, Image.project_id)
                .join(Project, Project.id == Image.project_id)
                .where(Image.id == image_id)
            )
        ).first()
    if row is None:
        raise PermanentJobError(f"image {image_id} no longer exists")
    return row.user_id, row.project_id, image_id


async def _run(
    ctx: JobContext,
    original_key: str,
    user_mask_key: str | None,
    work: Callable[[bytes, bytes | None], StageResult],
) -> JobResult:
    user_id, project_id, image_id = await _owner(ctx)
    started = time.perf_counter()
    original = await ctx.storage.get(original_key)
    user_mask = await ctx.storage.get(user_mask_key) if user_mask_key else None
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    result = await ctx.run_in_thread(work, original, user_mask)
    engine_s = time.perf_counter() - started
    observe_render(result.params)

    started = time.perf_counter()
    staged_key = storage_key(user_id, project_id, image_id, f"staged.{result.extension}")
    mask_key = storage_key(user_id, project_id, image_id, "mask.png")
    await ctx.storage.put(staged_key, result.image_bytes, result.content_type)
    await ctx.storage.put(mask_key, result.mask_png, "image/png")
    write_s = time.perf_counter() - started

    data: dict[str, Any] = {
        **result.params,
        "staged_key": staged_key,
        "mask_key": mask_key,
        "job_timings": {
            "read": round(read_s, 4),
            "engine": round(engine_s, 4),
            "write": round(write_s, 4),
        },
    }
    return JobResult(data=data, image={"staged_url": staged_key, "mask_url": mask_key})


@handler(STAGE_IMAGE, StageImagePayload, gpu=True)
async def stage_image(ctx: JobContext, payload: StageImagePayload) -> JobResult:
    """Furnish the room as the payload's room type and style."""
    engine = engine_for(ctx.settings)
    params = StageParams(
        room_type=payload.room_type,
        style=payload.style,
        seed=payload.seed,
        steps=payload.steps,
        guidance=payload.guidance,
        strength=payload.strength,
        output_format=payload.output_format,
    )

    def work(original: bytes, user_mask: bytes | None) -> StageResult:
        return engine.stage(original, params, user_mask=user_mask, progress=ctx.progress)

    return await _run(ctx, payload.original_key, payload.user_mask_key, work)


@handler(DECLUTTER, DeclutterPayload, gpu=True)
async def declutter(ctx: JobContext, payload: DeclutterPayload) -> JobResult:
    """Empty the room: remove furniture inside the detected (or given) mask."""
    engine = engine_for(ctx.settings)

    def work(original: bytes, user_mask: bytes | None) -> StageResult:
        return engine.declutter(
            original,
            seed=payload.seed,
            user_mask=user_mask,
            progress=ctx.progress,
            output_format=payload.output_format,
        )

    return await _run(ctx, payload.original_key, payload.user_mask_key, work)
