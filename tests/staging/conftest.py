"""Tiny real diffusers pipelines and sample photos shared by the staging tests.

The pipelines are written once per session with ``make_tiny_pipeline`` and loaded by the
engine through the same resolution and ``from_pretrained`` code as real weights.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network, even by accident
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest
from PIL import Image

from tests.staging.synthetic import Room, draw_room
from vstage.config import Settings
from vstage.staging.engine import StagingEngine
from vstage.staging.tiny import make_tiny_pipeline

#: Working long side for tests: small, so two diffusion steps take ~0.1 s on a CPU.
TEST_WORK_SIZE = 256


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd15"), "sd15")


def engine_settings(model: Path | str, **overrides: object) -> Settings:
    """Settings for the engine under test: tiny model, small working size, 2 steps."""
    values: dict[str, object] = {
        "model": str(model),
        "work_size": TEST_WORK_SIZE,
        "steps": 2,
        "drift_retries": 0,
        "torch_threads": 1,  # deterministic, and immune to CPU contention from other jobs
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_engine(tiny_sd15: Path) -> StagingEngine:
    """One engine for the session: the pipeline loads once, as in a worker."""
    return StagingEngine(engine_settings(tiny_sd15))


@pytest.fixture(scope="session")
def room() -> Room:
    return draw_room(768, 512)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, **options)
    return out.getvalue()


@pytest.fixture(scope="session")
def room_png(room: Room) -> bytes:
    return png_bytes(Image.fromarray(room.rgb))


@pytest.fixture(scope="session")
def room_jpeg(room: Room) -> bytes:
    return jpeg_bytes(Image.fromarray(room.rgb))
