"""Compositing keeps the photo's resolution and every protected pixel bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from vstage.staging.composite import (
    bounding_box,
    composite,
    full_resolution_alpha,
    scaled_box,
    upscale_mask,
    work_size,
)
from vstage.staging.mask import feather


@pytest.mark.parametrize(
    ("size", "long_side", "expected"),
    [
        ((4000, 3000), 768, (768, 576)),
        ((1001, 667), 768, (768, 512)),
        ((300, 1000), 512, (152, 512)),
    ],
)
def test_work_size_keeps_aspect_in_multiples_of_eight(
    size: tuple[int, int], long_side: int, expected: tuple[int, int]
) -> None:
    w, h = work_size(*size, long_side)
    assert (w, h) == expected
    assert w % 8 == 0
    assert h % 8 == 0


def test_composite_is_bit_identical_where_alpha_is_zero() -> None:
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (667, 1001, 3), np.uint8)
    generated = rng.integers(0, 256, (256, 384, 3), np.uint8)
    binary = np.zeros((256, 384), np.uint8)
    binary[120:, 40:300] = 255
    full_binary = upscale_mask(binary, 1001, 667)
    alpha = full_resolution_alpha(feather(binary, 5), full_binary)

    out = composite(original, generated, alpha)

    assert out.shape == original.shape
    untouched = alpha == 0
    assert untouched.any()
    assert np.array_equal(out[untouched], original[untouched])
    assert not alpha[full_binary == 0].any()
    edited = alpha == 255
    assert edited.any()
    assert (out[edited] != original[edited]).any()


def test_empty_alpha_returns_the_original() -> None:
    original = np.full((40, 30, 3), 7, np.uint8)
    out = composite(original, np.zeros((16, 16, 3), np.uint8), np.zeros((40, 30), np.uint8))
    assert np.array_equal(out, original)


def test_zero_alpha_keeps_every_possible_8bit_value() -> None:
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    original = np.ascontiguousarray(np.tile(values, (2, 2, 1)))
    generated = np.full((8, 8, 3), 255, np.uint8)
    generated[::2] = 0
    alpha = np.zeros((32, 32), np.uint8)
    alpha[:, 16:] = 255  # the right half is replaced, the left half kept

    out = composite(original, generated, alpha)

    assert np.array_equal(out[:, :16], original[:, :16])
    assert not np.array_equal(out[:, 16:], original[:, 16:])


def test_scaled_box_covers_every_nonzero_full_resolution_pixel() -> None:
    binary = np.zeros((64, 96), np.uint8)
    binary[30:50, 17:60] = 255
    alpha_work = feather(binary, 3)
    full = full_resolution_alpha(alpha_work, upscale_mask(binary, 1001, 667))
    x0, y0, x1, y1 = scaled_box(bounding_box(alpha_work), (96, 64), (1001, 667)) or (0, 0, 0, 0)
    outside = full.copy()
    outside[y0:y1, x0:x1] = 0
    assert full.any()
    assert not outside.any()
