"""End to end through a real (tiny) diffusers pipeline loaded like real weights."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from tests.staging.conftest import TEST_WORK_SIZE, jpeg_bytes, png_bytes
from tests.staging.synthetic import Room, draw_room
from vstage.errors import InvalidInput, UnsupportedMediaType
from vstage.staging.engine import StageParams, StageResult, StagingEngine, variation_seeds
from vstage.staging.imageio import decode_image

BIG = 10**9


def _pixels(data: bytes) -> np.ndarray:
    return decode_image(data, BIG).pixels


def _alpha(result: StageResult) -> np.ndarray:
    mask = Image.open(io.BytesIO(result.mask_png))
    assert mask.mode == "L"
    return np.asarray(mask)


def test_png_in_png_out_same_size_and_untouched_outside_the_mask(
    tiny_engine: StagingEngine, room: Room, room_png: bytes
) -> None:
    result = tiny_engine.stage(room_png, StageParams("living_room", "modern", seed=1))

    assert result.content_type == "image/png"
    out = _pixels(result.image_bytes)
    assert out.shape == room.rgb.shape
    alpha = _alpha(result)
    assert alpha.shape == room.rgb.shape[:2]
    protected = alpha == 0
    assert protected.mean() > 0.2
    assert np.array_equal(out[protected], room.rgb[protected])
    edited = alpha == 255
    assert edited.mean() > 0.2
    assert np.abs(out[edited].astype(int) - room.rgb[edited]).mean() > 5  # it did repaint


def test_window_and_door_pixels_survive_staging(
    tiny_engine: StagingEngine, room: Room, room_png: bytes
) -> None:
    out = _pixels(tiny_engine.stage(room_png, StageParams("bedroom", "luxury", seed=3)).image_bytes)
    for x0, y0, x1, y1 in (room.window, room.door):
        assert np.array_equal(out[y0:y1, x0:x1], room.rgb[y0:y1, x0:x1])


@pytest.mark.parametrize(("width", "height"), [(1001, 667), (333, 500), (97, 61)])
def test_odd_sizes_come_back_at_their_exact_size(
    tiny_engine: StagingEngine, width: int, height: int
) -> None:
    data = png_bytes(Image.fromarray(draw_room(width, height).rgb))
    result = tiny_engine.stage(data, StageParams("studio", "minimalist", seed=2))
    assert (result.width, result.height) == (width, height)
    assert _pixels(result.image_bytes).shape == (height, width, 3)
    assert _alpha(result).shape == (height, width)
    w, h = result.params["work_width"], result.params["work_height"]
    assert w % 8 == 0
    assert h % 8 == 0
    assert max(w, h) == TEST_WORK_SIZE


def test_twelve_megapixel_jpeg_keeps_full_resolution(tiny_engine: StagingEngine) -> None:
    photo = Image.fromarray(draw_room(768, 576).rgb).resize((4000, 3000), Image.Resampling.BILINEAR)
    result = tiny_engine.stage(jpeg_bytes(photo), StageParams("kitchen", "farmhouse", seed=4))
    assert result.content_type == "image/jpeg"
    assert (result.width, result.height) == (4000, 3000)
    assert Image.open(io.BytesIO(result.image_bytes)).size == (4000, 3000)
    timings = result.params["timings"]
    assert timings["total"] - timings["diffusion"] < 5.0


def test_same_seed_same_bytes_other_seed_other_bytes(
    tiny_engine: StagingEngine, room_png: bytes
) -> None:
    first = tiny_engine.stage(room_png, StageParams("dining_room", "industrial", seed=11))
    again = tiny_engine.stage(room_png, StageParams("dining_room", "industrial", seed=11))
    other = tiny_engine.stage(room_png, StageParams("dining_room", "industrial", seed=12))
    assert first.image_bytes == again.image_bytes
    assert first.mask_png == again.mask_png
    assert first.image_bytes != other.image_bytes


def test_prompt_changes_the_output(tiny_engine: StagingEngine, room_png: bytes) -> None:
    modern = tiny_engine.stage(room_png, StageParams("bedroom", "modern", seed=5))
    boho = tiny_engine.stage(room_png, StageParams("bedroom", "bohemian", seed=5))
    assert modern.image_bytes != boho.image_bytes


def test_exif_rotated_jpeg_is_staged_upright(tiny_engine: StagingEngine) -> None:
    upright = draw_room(320, 480).rgb  # portrait
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # sideways, as the camera wrote it
    exif = Image.Exif()
    exif[0x0112] = 6
    data = jpeg_bytes(Image.fromarray(stored), exif=exif.tobytes())

    result = tiny_engine.stage(data, StageParams("bedroom", "coastal", seed=1))

    image = Image.open(io.BytesIO(result.image_bytes))
    assert image.size == (320, 480)
    assert not image.getexif()
    out = np.asarray(image.convert("RGB")).astype(int)
    # The ceiling (light grey) is at the top and protected; the floor (brown) at the bottom.
    assert np.abs(out[:40] - upright[:40].astype(int)).mean() < 4
    assert out[:40].mean() > 200


def test_heic_input_is_staged_as_jpeg(tiny_engine: StagingEngine, room: Room) -> None:
    heif = pillow_heif.from_pillow(Image.fromarray(room.rgb))
    buffer = io.BytesIO()
    heif.save(buffer, quality=90)
    result = tiny_engine.stage(buffer.getvalue(), StageParams("entryway", "traditional", seed=1))
    assert result.content_type == "image/jpeg"
    assert result.params["input_format"] == "heif"
    assert Image.open(io.BytesIO(result.image_bytes)).size == (room.rgb.shape[1], room.rgb.shape[0])


def test_gps_exif_never_reaches_the_output(tiny_engine: StagingEngine, room: Room) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)
    data = jpeg_bytes(Image.fromarray(room.rgb), exif=exif.tobytes())
    result = tiny_engine.stage(data, StageParams("outdoor", "coastal", seed=1))
    assert b"SecretCam" not in result.image_bytes
    assert b"Exif" not in result.image_bytes
    assert not Image.open(io.BytesIO(result.image_bytes)).getexif()


def test_user_mask_overrides_detection(
    tiny_engine: StagingEngine, room: Room, room_png: bytes
) -> None:
    height, width = room.rgb.shape[:2]
    user = np.zeros((height // 4, width // 4), np.uint8)  # any size: resized to the photo
    user[20:60, 30:120] = 255

    result = tiny_engine.stage(
        room_png,
        StageParams("kids_room", "scandinavian", seed=1),
        user_mask=png_bytes(Image.fromarray(user)),
    )

    alpha = _alpha(result)
    allowed = np.zeros((height, width), bool)
    allowed[80:240, 120:480] = True
    assert not alpha[~allowed].any()
    assert (alpha[110:210, 150:450] >= 250).all()  # fully edited away from the feathered rim
    out = _pixels(result.image_bytes)
    assert np.array_equal(out[alpha == 0], room.rgb[alpha == 0])
    assert result.params["mask_source"] == "user"


def test_result_params_record_how_to_reproduce(tiny_engine: StagingEngine, room_png: bytes) -> None:
    result = tiny_engine.stage(
        room_png, StageParams("home_office", "mid_century", seed=99, steps=3)
    )
    params = result.params
    assert params["model"] == tiny_engine.settings.model
    assert params["model_revision"].startswith("sha256:")
    assert params["controlnet"].endswith("/controlnet")
    assert params["family"] == "sd15"
    assert params["scheduler"] == "unipc"
    assert params["steps"] == 3
    assert params["guidance"] == tiny_engine.settings.guidance
    assert params["strength"] == tiny_engine.settings.strength
    assert params["seed"] == 99
    assert params["seeds_tried"] == [99]
    assert params["mask_sha256"] == hashlib.sha256(result.mask_png).hexdigest()
    assert 0.0 <= params["drift_score"] <= 1.0
    assert "home office" in params["prompt"]
    for stage in ("decode", "normalise", "structure", "mask", "diffusion", "composite", "encode"):
        assert params["timings"][stage] >= 0.0


def test_progress_reports_every_diffusion_step(tiny_engine: StagingEngine, room_png: bytes) -> None:
    seen: list[tuple[int, int]] = []
    tiny_engine.stage(
        room_png,
        StageParams("bathroom", "japandi", seed=1, steps=3),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_tiny_model_drift_triggers_bounded_retries(tiny_sd15: object, room_png: bytes) -> None:
    from tests.staging.conftest import engine_settings

    engine = StagingEngine(engine_settings(str(tiny_sd15), drift_retries=2, drift_threshold=0.05))
    result = engine.stage(room_png, StageParams("living_room", "modern", seed=20))
    # A random model redraws everything: every attempt drifts, three are tried, best kept.
    assert result.params["seeds_tried"] == [20, 21, 22]
    assert result.params["drift_exceeded"] is True
    assert result.params["drift_score"] == min(result.params["drift_scores"])


def test_declutter_uses_the_empty_room_prompt(tiny_engine: StagingEngine, room_png: bytes) -> None:
    result = tiny_engine.declutter(room_png, seed=3)
    assert result.params["mode"] == "declutter"
    assert "empty room" in result.params["prompt"]
    assert result.content_type == "image/png"
    assert result.image_bytes != room_png


def test_output_format_can_be_forced(tiny_engine: StagingEngine, room_png: bytes) -> None:
    result = tiny_engine.stage(
        room_png, StageParams("bedroom", "modern", seed=1, output_format="jpeg")
    )
    assert result.content_type == "image/jpeg"
    assert result.image_bytes[:3] == b"\xff\xd8\xff"


def test_bad_inputs_fail_before_any_diffusion(tiny_engine: StagingEngine, room_png: bytes) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    with pytest.raises(UnsupportedMediaType):
        tiny_engine.stage(gif.getvalue(), StageParams("bedroom", "modern", seed=1))
    with pytest.raises(InvalidInput, match="unknown room type"):
        tiny_engine.stage(room_png, StageParams("garage", "modern", seed=1))
    with pytest.raises(InvalidInput, match="seed"):
        tiny_engine.stage(room_png, StageParams("bedroom", "modern", seed=-1))
    with pytest.raises(InvalidInput, match="steps"):
        tiny_engine.stage(room_png, StageParams("bedroom", "modern", seed=1, steps=0))


def test_truncated_large_jpeg_is_invalid_input(tiny_engine: StagingEngine) -> None:
    photo = Image.fromarray(draw_room(1600, 1200).rgb)
    data = jpeg_bytes(photo)
    with pytest.raises(InvalidInput, match="truncated"):
        tiny_engine.stage(data[: len(data) * 9 // 10], StageParams("bedroom", "modern", seed=1))


def test_variation_seeds_are_deterministic_and_distinct() -> None:
    seeds = variation_seeds(1234, 4)
    assert seeds[0] == 1234
    assert len(set(seeds)) == 4
    assert seeds == variation_seeds(1234, 4)
    assert variation_seeds(1234, 2) == seeds[:2]
    assert variation_seeds(1235, 4)[1:] != seeds[1:]
    assert all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(InvalidInput):
        variation_seeds(1, 0)
