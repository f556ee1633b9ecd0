"""Drift is near 0 when the room is kept and high when it moves; the engine retries."""

from __future__ import annotations

import numpy as np

from tests.staging.backends import DistortingBackend, PaintBackend
from tests.staging.conftest import engine_settings
from tests.staging.synthetic import draw_room
from vstage.staging.drift import drift_score, ssim_map
from vstage.staging.engine import StageParams, StagingEngine
from vstage.staging.mask import heuristic_mask
from vstage.staging.structure import build_structure


def test_ssim_is_one_for_identical_images_and_lower_otherwise() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (64, 64)).astype(np.float32)
    assert np.allclose(ssim_map(a, a), 1.0, atol=1e-4)
    assert float(ssim_map(a, np.roll(a, 3, axis=1)).mean()) < 0.5


def test_drift_separates_a_kept_room_from_a_moved_one() -> None:
    room = draw_room(384, 256)
    structure = build_structure(room.rgb)
    mask = heuristic_mask(room.rgb, structure).binary
    kept = PaintBackend().inpaint(
        room.rgb, mask, room.rgb, prompt="", negative_prompt="", seed=1, steps=1,
        guidance=1.0, strength=1.0,
    )  # fmt: skip
    moved = DistortingBackend(bad_calls=1).inpaint(
        room.rgb, mask, room.rgb, prompt="", negative_prompt="", seed=1, steps=1,
        guidance=1.0, strength=1.0,
    )  # fmt: skip

    good = drift_score(room.rgb, kept, mask, structure.lines)
    bad = drift_score(room.rgb, moved, mask, structure.lines)

    assert good.ring_ssim is not None
    assert good.ring_ssim > 0.99
    assert good.score < 0.1
    assert bad.score > 0.5
    assert bad.ring_ssim is not None
    assert bad.ring_ssim < good.ring_ssim


def test_engine_retries_with_next_seeds_until_drift_is_below_threshold(room_png: bytes) -> None:
    backend = DistortingBackend(bad_calls=2)
    settings = engine_settings("unused", drift_threshold=0.3, drift_retries=3)
    engine = StagingEngine(settings, backend=backend)

    result = engine.stage(room_png, StageParams("bedroom", "japandi", seed=41))

    assert backend.seeds == [41, 42, 43]
    assert result.params["seeds_tried"] == [41, 42, 43]
    assert result.params["seed"] == 43
    assert result.params["requested_seed"] == 41
    scores = result.params["drift_scores"]
    assert scores[0] > 0.3
    assert scores[1] > 0.3
    assert scores[2] <= 0.3
    assert result.params["drift_score"] == scores[2]
    assert result.params["drift_exceeded"] is False


def test_retries_are_bounded_and_the_least_drifting_attempt_wins(room_png: bytes) -> None:
    backend = DistortingBackend(bad_calls=100)
    engine = StagingEngine(
        engine_settings("unused", drift_threshold=0.1, drift_retries=2), backend=backend
    )
    result = engine.stage(room_png, StageParams("bedroom", "modern", seed=7))
    assert backend.seeds == [7, 8, 9]
    assert result.params["drift_exceeded"] is True
    assert result.params["drift_score"] == min(result.params["drift_scores"])
    assert result.params["seed"] == 7 + result.params["drift_scores"].index(
        result.params["drift_score"]
    )


def test_well_behaved_backend_needs_no_retry(room_png: bytes) -> None:
    backend = PaintBackend()
    engine = StagingEngine(engine_settings("unused", drift_retries=3), backend=backend)
    result = engine.stage(room_png, StageParams("kitchen", "coastal", seed=5))
    assert backend.seeds == [5]
    assert result.params["drift_score"] < engine.settings.drift_threshold
