"""Models load from folders or the HF cache; a missing one is a quick, clear error."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from huggingface_hub import constants

from tests.staging.conftest import engine_settings
from vstage.staging.backend import ModelNotFound
from vstage.staging.diffusers_backend import (
    DiffusersBackend,
    content_revision,
    looks_like_path,
    pipeline_family,
    pull,
    resolve_model,
)
from vstage.staging.engine import StageParams, StagingEngine
from vstage.staging.tiny import make_tiny_pipeline


def test_missing_local_folder_is_a_clear_error(tmp_path: Path, room_png: bytes) -> None:
    missing = tmp_path / "no-such-model"
    engine = StagingEngine(engine_settings(missing))
    started = time.perf_counter()
    with pytest.raises(ModelNotFound) as raised:
        engine.stage(room_png, StageParams("bedroom", "modern", seed=1))
    assert time.perf_counter() - started < 5.0
    error = raised.value
    assert error.code == "model_not_found"
    assert error.status_code == 503
    assert str(missing) in error.message
    assert "does not exist" in error.message
    assert "vstage models pull" in error.message


def test_uncached_hub_id_offline_fails_fast_naming_the_model(room_png: bytes) -> None:
    engine = StagingEngine(engine_settings("example-org/not-a-real-staging-model"))
    started = time.perf_counter()
    with pytest.raises(ModelNotFound) as raised:
        engine.stage(room_png, StageParams("bedroom", "modern", seed=1))
    assert time.perf_counter() - started < 5.0
    message = raised.value.message
    assert "example-org/not-a-real-staging-model" in message
    assert "HF_HUB_OFFLINE" in message
    assert "vstage models pull example-org/not-a-real-staging-model" in message


def test_folder_without_model_index_is_refused(tmp_path: Path) -> None:
    (tmp_path / "unet").mkdir()
    with pytest.raises(ModelNotFound, match=r"no model_index\.json"):
        resolve_model(str(tmp_path), required_file="model_index.json")


def test_model_without_controlnet_needs_the_setting(tiny_sd15: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(tiny_sd15, bare, ignore=shutil.ignore_patterns("controlnet"))
    settings = engine_settings(bare, controlnet_model=None)
    with pytest.raises(ModelNotFound, match="VSTAGE_CONTROLNET_MODEL"):
        DiffusersBackend(settings)
    # ... and with VSTAGE_CONTROLNET_MODEL pointing at a folder it loads.
    backend = DiffusersBackend(
        engine_settings(bare, controlnet_model=str(tiny_sd15 / "controlnet"))
    )
    assert backend.info.controlnet == str(tiny_sd15 / "controlnet")


def test_hub_ids_and_paths_are_told_apart() -> None:
    assert not looks_like_path("stable-diffusion-v1-5/stable-diffusion-inpainting")
    assert not looks_like_path("gpt2")
    assert looks_like_path("./models/tiny")
    assert looks_like_path("/srv/models/tiny")
    assert looks_like_path("a/b/c")


def test_local_revision_is_a_stable_content_hash(tiny_sd15: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_sd15, copy)
    assert content_revision(copy) == content_revision(tiny_sd15)
    other = make_tiny_pipeline(tmp_path / "other", seed=1)
    assert content_revision(other) != content_revision(tiny_sd15)


def test_hub_id_loads_from_the_hf_cache_with_its_commit_as_revision(
    tiny_sd15: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, room_png: bytes
) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--vstage-test--tiny-inpaint"
    shutil.copytree(tiny_sd15, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    resolved = resolve_model("vstage-test/tiny-inpaint", required_file="model_index.json")
    assert resolved.source == "hf-cache"
    assert resolved.revision == commit
    assert pull("vstage-test/tiny-inpaint").revision == commit

    engine = StagingEngine(engine_settings("vstage-test/tiny-inpaint"))
    result = engine.stage(room_png, StageParams("bedroom", "modern", seed=1))
    assert result.params["model"] == "vstage-test/tiny-inpaint"
    assert result.params["model_revision"] == commit


def test_pull_offline_is_a_clear_error() -> None:
    with pytest.raises(ModelNotFound, match="downloads are off"):
        pull("example-org/not-cached")


def test_sdxl_tiny_pipeline_loads_and_stages(tmp_path: Path, room_png: bytes) -> None:
    model = make_tiny_pipeline(tmp_path / "sdxl", "sdxl")
    assert pipeline_family(model) == "sdxl"
    engine = StagingEngine(engine_settings(model))
    first = engine.stage(room_png, StageParams("living_room", "luxury", seed=5))
    second = engine.stage(room_png, StageParams("living_room", "luxury", seed=5))
    assert first.params["family"] == "sdxl"
    assert first.image_bytes == second.image_bytes
    assert (first.width, first.height) == (768, 512)
