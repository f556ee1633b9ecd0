"""The "Virtually staged" disclosure label drawn onto a downloaded copy.

Many listing sites and jurisdictions require virtually staged photos to say so. The
label is added only to the downloaded copy, on request; the stored result stays
untouched (it is the reproducible output of the job). Sized relative to the image so it
reads the same on a 1 MP phone photo and a 40 MP camera file.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

LABEL_TEXT = "Virtually staged"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def add_label(data: bytes, *, text: str = LABEL_TEXT) -> tuple[bytes, str]:
    """Return the image with a label in its lower-left corner, and its content type.

    The format is kept (PNG stays lossless; everything else becomes a high-quality JPEG)
    and so is the full resolution.
    """
    with Image.open(io.BytesIO(data)) as source:
        fmt = "PNG" if source.format == "PNG" else "JPEG"
        image = source.convert("RGBA")
    width, height = image.size
    size = max(12, round(min(width, height) * 0.045))
    font = _font(size)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = round(size * 0.45)
    margin = round(size * 0.6)
    box = (
        margin,
        height - margin - (bottom - top) - 2 * pad,
        margin + (right - left) + 2 * pad,
        height - margin,
    )
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rounded_rectangle(box, radius=pad, fill=(0, 0, 0, 150))
    image = Image.alpha_composite(image, overlay)
    ImageDraw.Draw(image).text(
        (box[0] + pad - left, box[1] + pad - top), text, font=font, fill=(255, 255, 255, 255)
    )
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG")
        return out.getvalue(), "image/png"
    image.convert("RGB").save(out, "JPEG", quality=95, subsampling=0)
    return out.getvalue(), "image/jpeg"
