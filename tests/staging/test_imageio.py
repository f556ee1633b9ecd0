"""Uploads are accepted by content, capped before decoding, and come out clean and upright."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from tests.staging.conftest import jpeg_bytes, png_bytes
from vstage.errors import InvalidInput, UnsupportedMediaType
from vstage.staging.imageio import decode_image, encode_image, sniff_format

CAP = 40_000_000


def _portrait_with_red_top(width: int = 120, height: int = 180) -> np.ndarray:
    """An upright portrait photo whose top quarter is red and the rest blue."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 4] = (220, 30, 30)
    pixels[height // 4 :] = (30, 30, 220)
    return pixels


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` in its header but holds one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + chunk(b"IEND", b"")
    )


def _heic_bytes(pixels: np.ndarray) -> bytes:
    heif = pillow_heif.from_pillow(Image.fromarray(pixels))
    out = io.BytesIO()
    heif.save(out, quality=95)
    return out.getvalue()


def test_sniffing_names_each_accepted_format_by_its_bytes() -> None:
    pixels = np.full((16, 16, 3), 128, np.uint8)
    image = Image.fromarray(pixels)
    webp = io.BytesIO()
    image.save(webp, "WEBP")
    assert sniff_format(jpeg_bytes(image)[:32]) == "jpeg"
    assert sniff_format(png_bytes(image)[:32]) == "png"
    assert sniff_format(webp.getvalue()[:32]) == "webp"
    assert sniff_format(_heic_bytes(pixels)[:32]) == "heif"
    assert sniff_format(b"GIF89a" + b"\x00" * 26) is None


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "BMP", "PDF"])
def test_other_raster_formats_are_415_whatever_the_name(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(out, fmt)
    with pytest.raises(UnsupportedMediaType) as raised:
        decode_image(out.getvalue(), CAP)
    assert raised.value.status_code == 415
    assert fmt in raised.value.message


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"<!DOCTYPE html><html><body>photo.jpg</body></html>", "HTML"),
        (b"just some text pretending to be photo.jpg\n" * 3, "unrecognised"),
    ],
)
def test_text_formats_are_415(payload: bytes, name: str) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        decode_image(payload, CAP)
    assert name in raised.value.message


def test_pixel_bomb_is_rejected_from_the_header_fast() -> None:
    bomb = _png_header_only(50_000, 50_000)
    assert len(bomb) < 10_000
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as raised:
        decode_image(bomb, CAP)
    assert time.perf_counter() - started < 0.5
    assert raised.value.status_code == 422
    assert "50000x50000 = 2500000000 px" in raised.value.message
    assert "40000000 px limit" in raised.value.message


def test_pixel_cap_is_ours_not_pillows() -> None:
    image = Image.fromarray(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InvalidInput, match="100x100"):
        decode_image(png_bytes(image), max_pixels=9_999)
    assert decode_image(png_bytes(image), max_pixels=10_000).width == 100


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9])
def test_truncated_or_empty_files_are_invalid_input(fraction: float) -> None:
    data = jpeg_bytes(
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    )
    with pytest.raises(InvalidInput) as raised:
        decode_image(data[: int(len(data) * fraction)], CAP)
    assert raised.value.status_code == 422


def test_truncated_png_is_invalid_input() -> None:
    data = png_bytes(
        Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), np.uint8))
    )
    with pytest.raises(InvalidInput):
        decode_image(data[: len(data) // 2], CAP)


def test_exif_rotated_jpeg_comes_out_upright_without_exif() -> None:
    upright = _portrait_with_red_top()
    stored = np.rot90(upright, k=1)  # what a sideways camera writes; orientation 6 undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    data = jpeg_bytes(Image.fromarray(np.ascontiguousarray(stored)), exif=exif.tobytes())

    decoded = decode_image(data, CAP)

    assert (decoded.width, decoded.height) == (120, 180)
    top, bottom = decoded.pixels[:20].mean(axis=(0, 1)), decoded.pixels[-20:].mean(axis=(0, 1))
    assert top[0] > 180, top  # red on top
    assert top[2] < 80, top
    assert bottom[2] > 180, bottom
    reencoded = Image.open(io.BytesIO(encode_image(decoded.pixels, "jpeg")))
    assert not reencoded.getexif()


def test_gps_and_all_metadata_are_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    data = jpeg_bytes(Image.fromarray(np.full((40, 60, 3), 90, np.uint8)), exif=exif.tobytes())
    assert b"SecretCam" in data

    decoded = decode_image(data, CAP)
    for fmt in ("jpeg", "png"):
        clean = encode_image(decoded.pixels, fmt)
        assert b"SecretCam" not in clean
        assert b"Exif" not in clean
        reopened = Image.open(io.BytesIO(clean))
        assert not reopened.getexif()
        assert "icc_profile" not in reopened.info


def test_icc_profile_is_applied_then_dropped() -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = np.full((20, 20, 3), (200, 120, 40), np.uint8)
    data = png_bytes_with_icc(pixels, profile)
    assert b"iCCP" in data

    decoded = decode_image(data, CAP)

    assert np.array_equal(decoded.pixels, pixels)  # sRGB in, the same sRGB out
    assert b"iCCP" not in encode_image(decoded.pixels, "png")


def test_cmyk_jpeg_becomes_rgb() -> None:
    out = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(out, "JPEG", quality=95)
    decoded = decode_image(out.getvalue(), CAP)
    red, green, blue = decoded.pixels[8, 8].tolist()
    assert red > 200
    assert green < 60
    assert blue < 60


def png_bytes_with_icc(pixels: np.ndarray, profile: bytes) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", icc_profile=profile)
    return out.getvalue()


def test_heic_input_decodes() -> None:
    pixels = _portrait_with_red_top(64, 96)
    decoded = decode_image(_heic_bytes(pixels), CAP)
    assert decoded.format == "heif"
    assert (decoded.width, decoded.height) == (64, 96)
    assert decoded.pixels[:10].mean(axis=(0, 1))[0] > 150


def test_webp_and_transparent_png_become_rgb() -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent → white
    decoded = decode_image(png_bytes(Image.fromarray(rgba, "RGBA")), CAP)
    assert decoded.pixels.shape == (10, 10, 3)
    assert int(decoded.pixels.min()) == 255
    webp = io.BytesIO()
    Image.new("RGB", (12, 8), (1, 2, 3)).save(webp, "WEBP", lossless=True)
    decoded = decode_image(webp.getvalue(), CAP)
    assert decoded.format == "webp"
    assert decoded.pixels[0, 0].tolist() == [1, 2, 3]


def test_sixteen_bit_grayscale_png_is_scaled_not_clipped() -> None:
    wide = np.full((8, 8), 32768, np.uint16)
    out = io.BytesIO()
    Image.fromarray(wide).save(out, "PNG")
    decoded = decode_image(out.getvalue(), CAP)
    assert 120 <= int(decoded.pixels[0, 0, 0]) <= 135


def test_animated_png_is_415() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(UnsupportedMediaType, match="animated"):
        decode_image(out.getvalue(), CAP)


def test_png_round_trip_is_lossless() -> None:
    pixels = np.random.default_rng(3).integers(0, 255, (33, 47, 3), np.uint8)
    decoded = decode_image(encode_image(pixels, "png"), CAP)
    assert np.array_equal(decoded.pixels, pixels)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_fast_jpeg_path_orients_exactly_like_pillow(orientation: int) -> None:
    from PIL import ImageOps

    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 256, (48, 80, 3), np.uint8)
    stored[:8, :8] = (255, 0, 0)  # a marker in one corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg_bytes(Image.fromarray(stored), exif=exif.tobytes())

    decoded = decode_image(data, CAP)  # OpenCV decode + our orientation
    reference = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))

    assert decoded.pixels.shape == reference.shape
    assert np.abs(decoded.pixels.astype(int) - reference).mean() < 1.0


def test_preview_is_a_reduced_upright_decode_with_the_full_size() -> None:
    from vstage.staging.imageio import decode_preview

    upright = _portrait_with_red_top(600, 900)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = jpeg_bytes(Image.fromarray(np.ascontiguousarray(np.rot90(upright))), exif=exif.tobytes())

    preview = decode_preview(data, CAP, 200)

    assert preview is not None
    assert (preview.width, preview.height) == (600, 900)
    assert preview.pixels.shape[0] > preview.pixels.shape[1] >= 150
    assert preview.pixels[:10].mean(axis=(0, 1))[0] > 180
    assert decode_preview(png_bytes(Image.fromarray(upright)), CAP, 200) is None
    with pytest.raises(InvalidInput):
        decode_preview(data[: len(data) * 3 // 4], CAP, 200)
