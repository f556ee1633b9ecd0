"""Turning an upload into the file we store: validated, upright, metadata-free.

What is stored is never the client's bytes. The upload is decoded by the engine's
strict decoder (:func:`vstage.staging.imageio.decode_image`: content-sniffed
allowlist → 415, pixel cap from the header before any pixel is decoded → 422,
truncated or empty → 422), EXIF orientation is applied, and the pixels are encoded
afresh, so GPS and every other metadata field are gone and no crafted chunk survives.
PNG stays PNG (lossless in, lossless out); everything else becomes a quality-95 JPEG.

Decoding is CPU-bound and needs ``3 x pixels`` bytes, so it runs on a thread pool
sized to the CPU count: concurrent uploads queue for a core instead of all holding a
decoded 40 MP image in memory at once (a pool, unlike an asyncio semaphore, is not
tied to one event loop).
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vstage.errors import InvalidInput, UnsupportedMediaType
from vstage.staging.imageio import DecodedImage, decode_image, encode_image, sniff_format

JPEG_QUALITY = 95
_DECODE_POOL = ThreadPoolExecutor(
    max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="vstage-decode"
)


@dataclass(frozen=True)
class CleanImage:
    """Bytes ready for storage and what we know about them."""

    data: bytes
    content_type: str
    object_name: str  # a name from vstage.storage.OBJECT_NAMES
    width: int
    height: int
    source_format: str  # what the client sent: jpeg, png, webp, heif


def clean_original(data: bytes, max_pixels: int) -> CleanImage:
    """Decode ``data`` strictly and re-encode it without metadata (blocking)."""
    decoded = decode_image(data, max_pixels)
    if decoded.format == "png":
        return CleanImage(
            encode_image(decoded.pixels, "png"),
            "image/png",
            "original.png",
            decoded.width,
            decoded.height,
            decoded.format,
        )
    return CleanImage(
        encode_image(decoded.pixels, "jpeg", quality=JPEG_QUALITY),
        "image/jpeg",
        "original.jpg",
        decoded.width,
        decoded.height,
        decoded.format,
    )


def clean_mask(data: bytes, width: int, height: int, max_pixels: int) -> CleanImage:
    """A user mask: a PNG the size of the (upright) photo; white = may be furnished.

    Stored as 8-bit grayscale PNG, re-encoded like the original.
    """
    if sniff_format(data[:64]) != "png" and data:
        raise UnsupportedMediaType("the mask must be a PNG image")
    decoded: DecodedImage = decode_image(data, max_pixels)
    if (decoded.width, decoded.height) != (width, height):
        raise InvalidInput(
            f"the mask is {decoded.width}x{decoded.height} but the photo is "
            f"{width}x{height} (after EXIF rotation); they must match"
        )
    gray = np.ascontiguousarray(decoded.pixels.max(axis=2))
    return CleanImage(
        encode_image(Image.fromarray(gray, "L"), "png"),
        "image/png",
        "user_mask.png",
        width,
        height,
        "png",
    )


async def clean_in_thread(data: bytes, max_pixels: int) -> CleanImage:
    """:func:`clean_original` on the decode pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _DECODE_POOL, functools.partial(clean_original, data, max_pixels)
    )


async def clean_mask_in_thread(data: bytes, width: int, height: int, max_pixels: int) -> CleanImage:
    """:func:`clean_mask` on the decode pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _DECODE_POOL, functools.partial(clean_mask, data, width, height, max_pixels)
    )
