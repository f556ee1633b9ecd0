"""A synthetic but photo-like empty room (JPEG), for browser tests and docs screenshots.

One-point perspective: back wall with a window (sky and a tree line outside), a door on
the left wall, wooden floor planks converging to the vanishing point, baseboards, a
ceiling, soft light falloff and a little sensor noise. It gives the staging pipeline real
lines and edges to protect, and looks like a listing photo rather than test noise.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _lerp(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def room_photo(
    width: int = 1200,
    height: int = 800,
    *,
    wall: tuple[int, int, int] = (226, 220, 208),
    floor: tuple[int, int, int] = (150, 108, 72),
    seed: int = 1,
) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), wall)
    d = ImageDraw.Draw(img)
    # Back wall rectangle (the far wall) and its corners.
    bx0, by0, bx1, by1 = int(width * 0.24), int(height * 0.2), int(width * 0.76), int(height * 0.66)
    # Ceiling.
    d.polygon([(0, 0), (width, 0), (bx1, by0), (bx0, by0)], fill=_lerp(wall, (255, 255, 255), 0.5))
    # Side walls, a little darker than the back wall (light comes through the window).
    d.polygon([(0, 0), (bx0, by0), (bx0, by1), (0, height)], fill=_lerp(wall, (0, 0, 0), 0.12))
    d.polygon(
        [(width, 0), (bx1, by0), (bx1, by1), (width, height)], fill=_lerp(wall, (0, 0, 0), 0.18)
    )
    d.rectangle([bx0, by0, bx1, by1], fill=wall)
    # Floor: planks converging to the vanishing point, drawn on their own layer and
    # pasted through the floor's trapezoid so no line runs up a wall.
    floor_poly = [(0, height), (bx0, by1), (bx1, by1), (width, height)]
    planks = Image.new("RGB", (width, height), floor)
    p = ImageDraw.Draw(planks)
    vx, vy = width / 2, (by0 + by1) / 2
    for i in range(-40, 41):
        x_far = bx0 + (bx1 - bx0) * (i + 14) / 28
        t = (height - vy) / (by1 - vy)
        x_near = vx + (x_far - vx) * t
        shade = _lerp(floor, (60, 40, 25), 0.35 + 0.2 * rng.random())
        p.line([(x_far, by1), (x_near, height)], fill=shade, width=2)
    for k in range(1, 9):  # plank ends, spaced in perspective
        y = by1 + (height - by1) * (k / 9) ** 1.6
        p.line([(0, y + 2), (width, y + 2)], fill=_lerp(floor, (80, 55, 35), 0.15), width=1)
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).polygon(floor_poly, fill=255)
    img.paste(planks, (0, 0), mask)
    # Baseboards.
    d.line([(bx0, by1), (bx1, by1)], fill=(245, 243, 238), width=6)
    d.line([(0, height - 2), (bx0, by1)], fill=(240, 238, 232), width=8)
    d.line([(width, height - 2), (bx1, by1)], fill=(236, 234, 228), width=8)
    # Window on the back wall: sky gradient, tree line, frame and mullions.
    wx0, wy0, wx1, wy1 = (
        int(width * 0.40),
        int(height * 0.27),
        int(width * 0.60),
        int(height * 0.55),
    )
    for y in range(wy0, wy1):
        t = (y - wy0) / (wy1 - wy0)
        d.line([(wx0, y), (wx1, y)], fill=_lerp((120, 170, 225), (215, 232, 245), t))
    for x in range(wx0, wx1, 6):
        top = wy1 - 18 - int(14 * abs(np.sin(x / 9.0)))
        d.line([(x, top), (x, wy1)], fill=(70, 110, 60), width=6)
    d.rectangle([wx0, wy0, wx1, wy1], outline=(250, 250, 250), width=7)
    d.line([((wx0 + wx1) // 2, wy0), ((wx0 + wx1) // 2, wy1)], fill=(250, 250, 250), width=5)
    d.line([(wx0, (wy0 + wy1) // 2), (wx1, (wy0 + wy1) // 2)], fill=(250, 250, 250), width=5)
    d.rectangle([wx0 - 10, wy1, wx1 + 10, wy1 + 8], fill=(248, 248, 246))  # sill

    # Door on the left wall, drawn in the wall's perspective, with a handle.
    def left_wall_floor_y(x: float) -> float:
        return height - (height - by1) * x / bx0

    dl, dr = width * 0.07, width * 0.17
    door = [
        (dl, height * 0.30),
        (dr, height * 0.36),
        (dr, left_wall_floor_y(dr) - 4),
        (dl, left_wall_floor_y(dl) - 4),
    ]
    d = ImageDraw.Draw(img)
    d.polygon(door, fill=(238, 236, 230), outline=(190, 186, 178))
    hx, hy = dr - width * 0.015, height * 0.56
    d.ellipse([hx - 5, hy - 5, hx + 5, hy + 5], fill=(120, 110, 90))
    # Ceiling light.
    d.ellipse(
        [width // 2 - 40, int(height * 0.05), width // 2 + 40, int(height * 0.09)],
        fill=(255, 253, 240),
    )
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    # Light falloff from the window plus sensor noise, like a real photo.
    arr = np.asarray(img).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    dist = np.hypot((xx - width / 2) / width, (yy - height * 0.4) / height)
    arr *= (1.08 - 0.45 * dist)[..., None]
    arr += np.random.default_rng(seed).normal(0, 2.5, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def room_jpeg(width: int = 1200, height: int = 800, **kwargs: object) -> bytes:
    out = io.BytesIO()
    room_photo(width, height, **kwargs).save(out, "JPEG", quality=90)  # type: ignore[arg-type]
    return out.getvalue()
