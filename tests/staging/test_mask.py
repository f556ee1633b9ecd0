"""The editable mask keeps windows, doors and the ceiling out, and honours user masks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.staging.conftest import png_bytes
from tests.staging.synthetic import Room, draw_room
from vstage.errors import InvalidInput, UnsupportedMediaType
from vstage.staging.mask import feather, heuristic_mask, load_user_mask
from vstage.staging.structure import build_structure


def _inside(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return mask[y0:y1, x0:x1]


@pytest.mark.parametrize(("width", "height"), [(768, 512), (1001, 667), (384, 256), (512, 768)])
def test_heuristic_keeps_window_door_and_ceiling_out(width: int, height: int) -> None:
    room: Room = draw_room(width, height)
    mask = heuristic_mask(room.rgb, build_structure(room.rgb))

    assert not _inside(mask.binary, room.window).any(), "window is editable"
    assert not _inside(mask.binary, room.door).any(), "door is editable"
    assert not mask.binary[: round(0.18 * height)].any(), "ceiling is editable"
    # ... while the floor and the wall band above it are editable.
    floor = mask.binary[room.floor_y + 10 :]
    assert (floor > 0).mean() > 0.8
    wall_band = mask.binary[room.floor_y - round(0.08 * height) : room.floor_y - 2]
    assert (wall_band > 0).mean() > 0.4
    assert {p.kind for p in mask.protected} >= {"ceiling", "window", "door"}


def test_heuristic_without_openings_edits_floor_and_wall_band() -> None:
    room = draw_room(640, 480)
    plain = room.rgb.copy()
    for x0, y0, x1, y1 in (room.window, room.door):  # paint them over with wall colour
        plain[y0 - 6 : min(y1 + 6, room.floor_y - 2), x0 - 6 : x1 + 6] = (200, 190, 175)
    mask = heuristic_mask(plain, build_structure(plain))
    assert {p.kind for p in mask.protected} <= {"ceiling", "fixture"}
    assert 0.4 < mask.editable_fraction < 0.75


def test_user_mask_is_resized_with_nearest_neighbour_and_thresholded() -> None:
    small = np.zeros((10, 20), np.uint8)
    small[5:, 10:] = 255
    mask = load_user_mask(png_bytes(Image.fromarray(small)), 200, 100, 10**8)
    assert mask.shape == (100, 200)
    assert set(np.unique(mask).tolist()) == {0, 255}
    assert mask[50:, 100:].all()
    assert not mask[:50].any()
    assert not mask[:, :100].any()


def test_user_mask_transparency_counts_as_protected() -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, 4:] = (255, 255, 255, 255)  # opaque white stroke on the right
    rgba[:, :4] = (255, 255, 255, 0)  # transparent (white underneath) on the left
    mask = load_user_mask(png_bytes(Image.fromarray(rgba, "RGBA")), 8, 8, 10**6)
    assert mask[:, 4:].all()
    assert not mask[:, :4].any()


def test_user_mask_must_be_an_image_with_something_editable() -> None:
    with pytest.raises(UnsupportedMediaType):
        load_user_mask(b"GIF89a....", 10, 10, 10**6)
    with pytest.raises(InvalidInput, match="no editable"):
        load_user_mask(png_bytes(Image.new("L", (5, 5), 0)), 10, 10, 10**6)
    out = io.BytesIO()
    Image.new("L", (5, 5), 255).save(out, "PNG")
    with pytest.raises(InvalidInput):
        load_user_mask(out.getvalue()[:30], 10, 10, 10**6)


def test_feathering_fades_inside_and_never_leaks_outside() -> None:
    binary = np.zeros((100, 100), np.uint8)
    binary[20:80, 20:80] = 255
    alpha = feather(binary, 6)
    assert not alpha[binary == 0].any()
    assert alpha[50, 50] == 255
    assert 0 < alpha[20, 50] < alpha[26, 50] <= 255  # ramps up from the border
