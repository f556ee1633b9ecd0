"""Strict image decoding and clean encoding for uploads and staging results.

Uploads are identified by their bytes, never by name or declared type: only JPEG, PNG,
WebP and HEIC/HEIF are accepted (DESIGN §6). The pixel cap is checked against the
dimensions in the header *before* any pixel is decoded, so a few-KB "decompression bomb"
costs nothing. Decoded images come out upright (EXIF orientation applied), in sRGB,
8-bit RGB, and carry no metadata at all: GPS, EXIF, XMP and ICC are gone because the
result is a bare pixel array.

The REST API uses :func:`decode_image` to validate uploads and :func:`encode_image` to
store a clean original; the staging engine uses the same pair for its input and output.
"""

from __future__ import annotations

import importlib
import io
import math
import struct
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import (
    Image,
    ImageCms,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from vstage.errors import InvalidInput, UnsupportedMediaType

InputFormat = Literal["jpeg", "png", "webp", "heif"]
OutputFormat = Literal["jpeg", "png"]
RGBArray = npt.NDArray[np.uint8]

CONTENT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heif": "image/heif",
}
EXTENSIONS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "heif": "heic"}

_ACCEPTED = "upload a JPEG, PNG, WebP or HEIC photo"
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_SRGB_PROFILE = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class DecodedImage:
    """An upright, metadata-free, 8-bit sRGB image and the container format it came in."""

    pixels: RGBArray  # H x W x 3, C-contiguous
    format: InputFormat
    width: int
    height: int

    @property
    def pixel_count(self) -> int:
        return self.width * self.height

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB")


def sniff_format(head: bytes) -> InputFormat | None:
    """Name the accepted format these leading bytes (≥ 32 recommended) start, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        major = head[8:12]
        if major in _HEIF_BRANDS:
            return "heif"
        if major in _GENERIC_HEIF_BRANDS:
            box_size = int.from_bytes(head[0:4], "big")
            compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
            if compatible & _HEIF_BRANDS and b"avif" not in compatible:
                return "heif"
    return None


def _describe_unsupported(head: bytes) -> str:
    """A human name for common rejected formats, for the error message."""
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    known: list[tuple[bool, str]] = [
        (head.startswith((b"GIF87a", b"GIF89a")), "GIF"),
        (head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")), "TIFF"),
        (head.startswith(b"BM"), "BMP"),
        (head.startswith(b"%PDF"), "PDF"),
        (b"<svg" in text, "SVG"),
        (text.startswith((b"<!doctype html", b"<html")), "HTML"),
        (len(head) >= 12 and head[4:8] == b"ftyp" and b"avif" in head[8:64], "AVIF"),
        (head.startswith(b"\x00\x00\x01\x00"), "ICO"),
    ]
    for matched, name in known:
        if matched:
            return name
    return "unrecognised"


def _could_be_truncated_signature(data: bytes) -> bool:
    signatures = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF")
    return any(sig.startswith(data) for sig in signatures) or (
        len(data) < 12 and data.startswith(b"\x00\x00\x00")
    )


def _webp_header_size(data: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header (VP8X, VP8 or VP8L chunk), without decoding."""
    chunk = data[12:16]
    try:
        if chunk == b"VP8X":
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    except (struct.error, IndexError):
        return None
    return None


def _too_large(width: int, height: int, max_pixels: int) -> InvalidInput:
    return InvalidInput(
        f"image is {width}x{height} = {width * height} px, above the {max_pixels} px limit",
        width=width,
        height=height,
        max_pixels=max_pixels,
    )


def _open_lazily(data: bytes, fmt: InputFormat, max_pixels: int) -> ImageFile.ImageFile:
    """Parse only the header with the plugin for ``fmt`` (no other plugin is ever tried).

    Calling the plugin class directly skips Pillow's global ``MAX_IMAGE_PIXELS`` check in
    ``Image.open``: the cap that applies is ``max_pixels``, checked by the caller.
    """
    fp = io.BytesIO(data)
    try:
        if fmt == "jpeg":
            return JpegImagePlugin.JpegImageFile(fp)
        if fmt == "png":
            return PngImagePlugin.PngImageFile(fp)
        if fmt == "webp":
            return WebPImagePlugin.WebPImageFile(fp)
        heif_plugin: Any = importlib.import_module("pillow_heif")
        image: ImageFile.ImageFile = heif_plugin.HeifImageFile(fp)
        return image
    except Image.DecompressionBombError:
        size = _webp_header_size(data) if fmt == "webp" else None
        if size is None:
            raise InvalidInput(f"image is above the {max_pixels} px limit") from None
        raise _too_large(size[0], size[1], max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        raise InvalidInput(f"corrupt or truncated {fmt.upper()} image ({exc})") from None
    except RuntimeError as exc:  # libheif reports most problems this way
        raise InvalidInput(f"corrupt or truncated {fmt.upper()} image ({exc})") from None


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert pixels tagged with a non-sRGB ICC profile (Display P3, Adobe RGB, CMYK …)."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source) or ""
        if "srgb" in description.lower() and image.mode == "RGB":
            return image
        if image.mode not in ("RGB", "CMYK", "L"):
            return image
        converted = ImageCms.profileToProfile(
            image,
            source,
            _SRGB_PROFILE,
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # an unusable profile: keep the pixels as they are
    return converted if converted is not None else image


def _to_rgb_array(image: Image.Image) -> RGBArray:
    """8-bit RGB pixels; transparency is flattened onto white, 16-bit is scaled down."""
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image)
    if mode.startswith("I") or mode == "F":
        wide = np.asarray(image)
        top = 65535.0 if mode.startswith("I;16") or wide.max(initial=0) > 255 else 255.0
        gray = np.clip(wide.astype(np.float32) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def _open_checked(data: bytes, max_pixels: int) -> tuple[InputFormat, ImageFile.ImageFile]:
    """Sniff, parse the header, enforce the pixel cap and refuse animations; no pixels yet."""
    if not data:
        raise InvalidInput("empty file: no image data")
    fmt = sniff_format(data[:64])
    if fmt is None:
        if _could_be_truncated_signature(data[:16]) and len(data) < 16:
            raise InvalidInput("truncated image: the file ends inside its header")
        raise UnsupportedMediaType(
            f"unsupported image format ({_describe_unsupported(data[:512])}); {_ACCEPTED}"
        )
    image = _open_lazily(data, fmt, max_pixels)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InvalidInput("image has no pixels")
    if width * height > max_pixels:
        raise _too_large(width, height, max_pixels)
    if fmt in ("png", "webp") and getattr(image, "is_animated", False):
        raise UnsupportedMediaType(f"animated images are not supported; {_ACCEPTED}")
    return fmt, image


def _load_upright(image: ImageFile.ImageFile, fmt: InputFormat) -> RGBArray:
    """Decode with Pillow, orient, convert to sRGB and 8-bit RGB."""
    try:
        image.load()
        upright = ImageOps.exif_transpose(image) or image
    except Image.DecompressionBombError:
        raise InvalidInput("image is too large to decode") from None
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError, struct.error) as exc:
        raise InvalidInput(f"corrupt or truncated {fmt.upper()} image ({exc})") from None
    pixels = np.ascontiguousarray(_to_rgb_array(_to_srgb(upright)))
    return pixels if pixels.flags.writeable else pixels.copy()


def _orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(0x0112, 1))
    except (OSError, SyntaxError, ValueError, TypeError, struct.error):
        return 1
    return value if 1 <= value <= 8 else 1


def orient(pixels: RGBArray, orientation: int) -> RGBArray:
    """Apply EXIF ``orientation`` (1-8) the way ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        out = cv2.flip(pixels, 1)
    elif orientation == 3:
        out = cv2.rotate(pixels, cv2.ROTATE_180)
    elif orientation == 4:
        out = cv2.flip(pixels, 0)
    elif orientation == 5:
        out = cv2.transpose(pixels)
    elif orientation == 6:
        out = cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    elif orientation == 7:
        out = cv2.flip(cv2.transpose(pixels), -1)
    elif orientation == 8:
        out = cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    else:
        return pixels
    return np.asarray(out, dtype=np.uint8)


def _is_plain_srgb(image: Image.Image) -> bool:
    icc = image.info.get("icc_profile")
    if not icc:
        return True
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in (ImageCms.getProfileDescription(profile) or "").lower()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False


def _decode_jpeg_fast(data: bytes, image: ImageFile.ImageFile) -> RGBArray | None:
    """Full-resolution JPEG decode with OpenCV (faster, and it releases the GIL).

    Only for the common case — YCbCr, sRGB or untagged, a complete stream ending in EOI —
    so that truncation is still detected; anything else goes through Pillow.
    """
    if image.mode != "RGB" or not _is_plain_srgb(image):
        return None
    if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
        return None  # possibly truncated: let Pillow decide and explain
    flags = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if decoded is None or decoded.shape[:2] != (image.size[1], image.size[0]):
        return None
    return orient(np.asarray(decoded, dtype=np.uint8), _orientation(image))


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode an upload strictly: sniff, cap pixels from the header, decode, orient, clean.

    Raises :class:`UnsupportedMediaType` (415) for anything but JPEG/PNG/WebP/HEIC/HEIF
    and for animations, :class:`InvalidInput` (422) for empty, corrupt or truncated data
    and for images above ``max_pixels``. Safe to call from several threads at once.
    """
    fmt, image = _open_checked(data, max_pixels)
    pixels = _decode_jpeg_fast(data, image) if fmt == "jpeg" else None
    if pixels is None:
        pixels = _load_upright(image, fmt)
    return DecodedImage(pixels=pixels, format=fmt, width=pixels.shape[1], height=pixels.shape[0])


@dataclass(frozen=True)
class Preview:
    """A reduced, upright, sRGB decode, plus the full image's upright size."""

    pixels: RGBArray
    format: InputFormat
    width: int
    height: int


def decode_preview(data: bytes, max_pixels: int, min_long_side: int) -> Preview | None:
    """A cheap reduced decode (JPEG DCT scaling) whose long side is ≥ ``min_long_side``.

    It reads and validates the whole stream, so a truncated file fails here too. Returns
    None when no reduction applies (non-JPEG, or a photo already near that size): then
    the caller resizes the full decode instead.
    """
    fmt, image = _open_checked(data, max_pixels)
    width, height = image.size
    factor = min_long_side / max(width, height)
    if fmt != "jpeg" or factor > 0.5:
        return None
    orientation = _orientation(image)
    image.draft("RGB", (math.ceil(width * factor), math.ceil(height * factor)))
    pixels = _load_upright(image, fmt)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Preview(pixels=pixels, format=fmt, width=width, height=height)


def _as_array(img: RGBArray | Image.Image) -> RGBArray:
    if isinstance(img, Image.Image):
        return _to_rgb_array(img)
    return img


def encode_image(img: RGBArray | Image.Image, fmt: OutputFormat, quality: int = 95) -> bytes:
    """Encode RGB (or grayscale, for masks) pixels with no metadata of any kind.

    JPEG at ``quality`` (≥ 92 recommended); PNG with fast zlib level 1, because staging
    outputs are large and lossless PNG is chosen for fidelity, not size.
    """
    if isinstance(img, Image.Image) and img.mode == "L":
        arr: npt.NDArray[np.uint8] = np.asarray(img)
    else:
        arr = _as_array(img)
    mode = "L" if arr.ndim == 2 else "RGB"
    if fmt == "jpeg":
        # OpenCV's encoder releases the GIL (the engine encodes the mask meanwhile) and
        # writes no metadata; 4:2:0 chroma, like camera originals.
        bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR) if arr.ndim == 3 else arr
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, 0]
        ok, encoded = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise ValueError("JPEG encoding failed")
        return bytes(encoded.tobytes())
    if fmt == "png":
        clean = Image.fromarray(np.ascontiguousarray(arr), mode)  # a fresh image: empty info
        out = io.BytesIO()
        clean.save(out, "PNG", compress_level=1)
        return out.getvalue()
    raise ValueError(f"cannot encode {fmt!r}: use jpeg or png")


def encode_mask_png(alpha: npt.NDArray[np.uint8]) -> bytes:
    """8-bit grayscale PNG of a mask (white = edited), no metadata, fast zlib level 1."""
    if alpha.ndim != 2:
        raise ValueError("a mask is a 2-D array")
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(alpha), "L").save(out, "PNG", compress_level=1)
    return out.getvalue()
