"""Working-resolution sizing and full-resolution compositing.

Diffusion runs on a copy whose long side is ~512-1024 px (multiples of 8); the photo a
client gets back keeps its original resolution. Only the generated pixels are upscaled,
and they are blended in through the feathered mask, so that every pixel whose alpha is 0
is a bit-for-bit copy of the decoded, upright input. All heavy work is done by OpenCV
(multi-threaded, SIMD), and only inside the bounding box of the edit.
"""

from __future__ import annotations

import cv2
import numpy as np

from vstage.staging.backend import MaskArray, RGBArray, as_u8


def work_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) with the input's aspect ratio, long side ≈ ``long_side``, both multiples of 8."""
    scale = long_side / max(width, height)
    w = max(64, round(width * scale / 8) * 8)
    h = max(64, round(height * scale / 8) * 8)
    return w, h


def resize_to(rgb: RGBArray, size: tuple[int, int]) -> RGBArray:
    """Resize to ``size`` (w, h): area averaging to shrink, bicubic to enlarge."""
    w, h = size
    if (rgb.shape[1], rgb.shape[0]) == (w, h):
        return rgb.copy()
    shrinking = w * h < rgb.shape[0] * rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return as_u8(cv2.resize(rgb, (w, h), interpolation=interpolation))


def upscale_mask(binary: MaskArray, width: int, height: int) -> MaskArray:
    """Nearest-neighbour upscaling of a 0/255 working mask to the photo's size."""
    return as_u8(cv2.resize(binary, (width, height), interpolation=cv2.INTER_NEAREST))


def full_resolution_alpha(alpha_work: MaskArray, binary_full: MaskArray) -> MaskArray:
    """Feathered alpha at the photo's size, forced to 0 wherever ``binary_full`` is 0."""
    height, width = binary_full.shape
    alpha = as_u8(cv2.resize(alpha_work, (width, height), interpolation=cv2.INTER_LINEAR))
    cv2.bitwise_and(alpha, binary_full, dst=alpha)
    return alpha


def bounding_box(alpha: MaskArray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the non-zero pixels, or None when there are none."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(alpha.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def scaled_box(
    box: tuple[int, int, int, int] | None, source: tuple[int, int], target: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """A box on a ``source`` (w, h) grid grown to cover its footprint on ``target``.

    Used to find the edit's bounding box on the small working mask instead of scanning
    the 12 MP one; the margin covers the bilinear upscaling kernel.
    """
    if box is None:
        return None
    sx, sy = target[0] / source[0], target[1] / source[1]
    x0, y0, x1, y1 = box
    return (
        max(0, int(np.floor((x0 - 1) * sx))),
        max(0, int(np.floor((y0 - 1) * sy))),
        min(target[0], int(np.ceil((x1 + 1) * sx))),
        min(target[1], int(np.ceil((y1 + 1) * sy))),
    )


def composite(
    original: RGBArray,
    generated_work: RGBArray,
    alpha: MaskArray,
    *,
    box: tuple[int, int, int, int] | None = None,
    in_place: bool = False,
) -> RGBArray:
    """Blend the upscaled ``generated_work`` into ``original`` with per-pixel ``alpha``.

    Where alpha is 0 the blend weights are exactly 255 and 0, which OpenCV's blend
    returns unchanged for every 8-bit value (a test checks all 256), so those pixels stay
    bit-identical; outside ``box`` (the bounding box of non-zero alpha, computed here
    when not given) they are not even visited. ``in_place`` reuses ``original``'s buffer.
    """
    height, width = original.shape[:2]
    out = original if in_place else original.copy()
    box = box if box is not None else bounding_box(alpha)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    upscaled = cv2.resize(generated_work, (width, height), interpolation=cv2.INTER_CUBIC)
    # blendLinear normalises by the weights' sum, so raw 0-255 weights need no scaling.
    weight_new = alpha[y0:y1, x0:x1].astype(np.float32)
    weight_old = np.float32(255.0) - weight_new
    region = out[y0:y1, x0:x1]
    cv2.blendLinear(region, upscaled[y0:y1, x0:x1], weight_old, weight_new, dst=region)
    return out
