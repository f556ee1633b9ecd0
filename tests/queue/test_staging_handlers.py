"""``stage_image`` and ``declutter`` run by a worker, with a tiny real diffusers model."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from prometheus_client import REGISTRY

from tests.factories import make_image, make_project, make_user
from tests.queue.conftest import get_job
from vstage.config import Settings
from vstage.db import Database
from vstage.images.service import stage_payload
from vstage.models import Image, ImageStatus
from vstage.queue import Worker, enqueue
from vstage.queue.errors import MODEL_MISSING_MESSAGE
from vstage.staging.handlers import DECLUTTER, STAGE_IMAGE
from vstage.staging.tiny import make_tiny_pipeline
from vstage.storage.base import Storage


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd15"), "sd15")


def _settings(db: Database, model: Path | str) -> Settings:
    """Tiny model, small working size, two steps: a few hundred milliseconds per job."""
    return db.settings.model_copy(
        update={
            "model": str(model),
            "work_size": 256,
            "steps": 2,
            "drift_retries": 0,
            "torch_threads": 1,
        }
    )


def _room_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    pixels = np.full((384, 512, 3), (200, 190, 175), np.uint8)
    pixels[260:] = (140, 100, 70)  # floor
    pixels[80:200, 60:180] = (215, 235, 255)  # window
    pixels += rng.integers(0, 6, pixels.shape, dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


async def _staging_job(
    db: Database, storage: Storage, job_type: str = STAGE_IMAGE, original: bytes | None = None
) -> tuple[uuid.UUID, Image]:
    async with db.transaction() as session:
        user = await make_user(session)
        image = await make_image(session, await make_project(session, user))
        await storage.put(image.original_url, original or _room_jpeg(), "image/jpeg")
        job = await enqueue(session, type=job_type, payload=stage_payload(image), image_id=image.id)
        return job.id, image


async def _reload(db: Database, image_id: uuid.UUID) -> Image:
    async with db.sessionmaker() as session:
        image = await session.get(Image, image_id)
        assert image is not None
        return image


async def test_stage_image_stores_output_and_mask_and_records_how(
    qdb: Database, storage: Storage, tiny_model: Path
) -> None:
    job_id, image = await _staging_job(qdb, storage)
    worker = Worker(qdb, storage, _settings(qdb, tiny_model))
    renders_before = REGISTRY.get_sample_value("vstage_engine_drift_score_count") or 0

    assert await worker.run_once() == 1

    job = await get_job(qdb, job_id)
    assert job.status == "completed", job.error
    staged = await _reload(qdb, image.id)
    assert staged.status == ImageStatus.ready
    assert staged.staged_url is not None
    assert staged.staged_url.endswith("/staged.jpg")
    assert staged.mask_url is not None
    assert staged.mask_url.endswith("/mask.png")
    output = PILImage.open(io.BytesIO(await storage.get(staged.staged_url)))
    assert output.size == (512, 384)  # the original's resolution
    assert PILImage.open(io.BytesIO(await storage.get(staged.mask_url))).format == "PNG"
    result = job.result_json or {}
    assert (result["seed"], result["steps"], result["room_type"]) == (42, 2, "living_room")
    assert result["model"]
    assert {"read", "engine", "write"} <= set(result["job_timings"])
    assert job.progress_json is not None
    assert job.progress_json["step"] == job.progress_json["total"]
    # The render is visible to Prometheus: its drift score and per-stage timings.
    assert REGISTRY.get_sample_value("vstage_engine_drift_score_count") == renders_before + 1
    diffusion = REGISTRY.get_sample_value(
        "vstage_engine_stage_seconds_count", {"stage": "diffusion"}
    )
    assert diffusion is not None
    assert diffusion >= 1

    # A second run for the same image overwrites its files instead of adding copies.
    async with qdb.transaction() as session:
        await enqueue(session, type=STAGE_IMAGE, payload=stage_payload(image), image_id=image.id)
    assert await worker.run_once() == 1
    folder = image.original_url.rsplit("/", 1)[0] + "/"
    keys = await storage.list_keys(folder)
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == ["mask.png", "original.jpg", "staged.jpg"]


async def test_declutter_runs_through_the_same_path(
    qdb: Database, storage: Storage, tiny_model: Path
) -> None:
    job_id, image = await _staging_job(qdb, storage, DECLUTTER)

    assert await Worker(qdb, storage, _settings(qdb, tiny_model)).run_once() == 1

    job = await get_job(qdb, job_id)
    assert job.status == "completed", job.error
    assert (job.result_json or {})["mode"] == "declutter"
    assert (await _reload(qdb, image.id)).status == ImageStatus.ready


async def test_a_missing_model_fails_the_job_at_once(
    qdb: Database, storage: Storage, tmp_path: Path
) -> None:
    job_id, image = await _staging_job(qdb, storage)
    worker = Worker(qdb, storage, _settings(qdb, tmp_path / "no-such-model"))

    await worker.run_once()

    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("failed", 1)
    failed = await _reload(qdb, image.id)
    assert failed.status == ImageStatus.error
    assert failed.error == MODEL_MISSING_MESSAGE  # not the operator instructions
    assert "VSTAGE_MODEL" in (job.error or "")


async def test_a_photo_the_engine_cannot_read_fails_the_job_at_once(
    qdb: Database, storage: Storage, tiny_model: Path
) -> None:
    gif = b"GIF89a" + bytes(100)
    job_id, image = await _staging_job(qdb, storage, original=gif)

    await Worker(qdb, storage, _settings(qdb, tiny_model)).run_once()

    job = await get_job(qdb, job_id)
    assert (job.status, job.attempts) == ("failed", 1)
    failed = await _reload(qdb, image.id)
    assert failed.status == ImageStatus.error
    assert failed.error
