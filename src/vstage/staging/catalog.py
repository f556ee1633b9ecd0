"""Room types, styles and the prompts built from them.

The codes are the snake_case names clients send (DESIGN §6); labels are what people read.
Every prompt says the same two things besides the furniture: the architecture stays
(walls, windows, doors, floor, ceiling, light), and the image is a real photograph —
the two complaints users have about virtual staging.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vstage.errors import InvalidInput


@dataclass(frozen=True)
class RoomType:
    code: str
    label: str
    furniture: str  # what a stager puts in such a room


@dataclass(frozen=True)
class Style:
    code: str
    label: str
    swatch: str  # hex colour for the style picker
    description: str  # materials, colours and shapes that define the style


@dataclass(frozen=True)
class Prompt:
    positive: str
    negative: str


ROOM_TYPES: tuple[RoomType, ...] = (
    RoomType(
        "living_room",
        "Living room",
        "a sofa, armchairs, a coffee table, a rug, floor lamp and plants",
    ),
    RoomType(
        "bedroom",
        "Bedroom",
        "a made double bed with pillows, bedside tables with lamps, a rug and a dresser",
    ),
    RoomType(
        "kitchen",
        "Kitchen",
        "bar stools, a small dining set, bowls of fruit and tasteful countertop decor",
    ),
    RoomType(
        "dining_room",
        "Dining room",
        "a dining table with chairs, a pendant-lit table setting, a sideboard and a rug",
    ),
    RoomType(
        "bathroom",
        "Bathroom",
        "folded towels, a bath mat, a small stool, plants and toiletries styled on the vanity",
    ),
    RoomType(
        "home_office",
        "Home office",
        "a desk, an ergonomic chair, a bookshelf, a desk lamp and a plant",
    ),
    RoomType(
        "kids_room",
        "Kids' room",
        "a single bed with colourful bedding, a play rug, toy storage and a small desk",
    ),
    RoomType(
        "outdoor",
        "Outdoor / patio",
        "outdoor lounge furniture, a dining set, potted plants and an outdoor rug",
    ),
    RoomType(
        "entryway", "Entryway", "a console table, a mirror, a bench, a coat rack and a runner rug"
    ),
    RoomType(
        "studio",
        "Studio apartment",
        "a sofa bed, a compact dining table, a room-dividing shelf and a rug",
    ),
)

STYLES: tuple[Style, ...] = (
    Style(
        "modern",
        "Modern",
        "#8a9bb0",
        "clean lines, neutral palette, sleek low-profile furniture, matte black accents",
    ),
    Style(
        "scandinavian",
        "Scandinavian",
        "#e8e2d6",
        "light oak wood, white and soft grey textiles, cosy wool throws, simple functional forms",
    ),
    Style(
        "industrial",
        "Industrial",
        "#5b5149",
        "leather, reclaimed wood, black steel frames, exposed-metal lighting, warm earthy tones",
    ),
    Style(
        "mid_century",
        "Mid-century modern",
        "#c47a3a",
        "walnut wood, tapered legs, mustard and teal accents, organic curves",
    ),
    Style(
        "luxury",
        "Luxury",
        "#b8975a",
        "velvet upholstery, marble surfaces, brass details, elegant statement lighting",
    ),
    Style(
        "farmhouse",
        "Modern farmhouse",
        "#a88f6a",
        "rustic wood, linen, woven baskets, white and natural tones, vintage accents",
    ),
    Style(
        "coastal",
        "Coastal",
        "#7fb3c8",
        "white and sandy tones, light blue accents, rattan, linen, airy and breezy",
    ),
    Style(
        "transitional",
        "Transitional",
        "#9c948a",
        "classic silhouettes with modern finishes, greige palette, balanced and timeless",
    ),
    Style(
        "minimalist",
        "Minimalist",
        "#f2f2f0",
        "very few pieces, uncluttered surfaces, monochrome palette, calm and spacious",
    ),
    Style(
        "bohemian",
        "Bohemian",
        "#b5533c",
        "layered patterned rugs, rattan, macrame, many plants, warm terracotta colours",
    ),
    Style(
        "japandi",
        "Japandi",
        "#cbb9a0",
        "low wooden furniture, muted earth tones, natural textures, wabi-sabi calm",
    ),
    Style(
        "traditional",
        "Traditional",
        "#6e3b2e",
        "rich dark wood, tufted upholstery, classic patterns, symmetrical arrangement",
    ),
)

_ROOMS_BY_CODE = {room.code: room for room in ROOM_TYPES}
_STYLES_BY_CODE = {style.code: style for style in STYLES}

_PHOTO = (
    "professional real estate interior photograph, photorealistic, natural light, "
    "high detail, sharp focus, realistic proportions and shadows, furniture standing on the floor"
)
_KEEP = "same room architecture, unchanged walls, windows, doors, floor and ceiling"
NEGATIVE = (
    "extra windows, extra doors, moved windows, blocked doorway, changed walls, changed "
    "ceiling, floating furniture, distorted perspective, warped lines, duplicate objects, "
    "cartoon, painting, illustration, render, cgi, low quality, blurry, noisy, oversaturated, "
    "text, watermark, logo, people, animals"
)
DECLUTTER_PROMPT = (
    "an empty room with bare clean floor and plain walls, no furniture, no objects, no clutter, "
    + _KEEP
    + ", "
    + _PHOTO.replace(", furniture standing on the floor", "")
)
DECLUTTER_NEGATIVE = (
    "furniture, sofa, chair, table, bed, rug, boxes, clutter, objects, decor, plants, people, "
    "extra windows, extra doors, distorted perspective, warped lines, blurry, low quality, "
    "text, watermark"
)


def room_type(code: str) -> RoomType:
    """The room type named ``code``; :class:`InvalidInput` listing valid codes otherwise."""
    try:
        return _ROOMS_BY_CODE[code]
    except KeyError:
        valid = ", ".join(_ROOMS_BY_CODE)
        raise InvalidInput(f"unknown room type {code!r}; valid: {valid}") from None


def style(code: str) -> Style:
    """The style named ``code``; :class:`InvalidInput` listing valid codes otherwise."""
    try:
        return _STYLES_BY_CODE[code]
    except KeyError:
        valid = ", ".join(_STYLES_BY_CODE)
        raise InvalidInput(f"unknown style {code!r}; valid: {valid}") from None


def build_prompt(room_code: str, style_code: str) -> Prompt:
    """Positive and negative prompt for furnishing a ``room_code`` in ``style_code``."""
    room = room_type(room_code)
    chosen = style(style_code)
    positive = (
        f"a {chosen.label.lower()} style {room.label.lower()} furnished with {room.furniture}, "
        f"{chosen.description}, {_KEEP}, {_PHOTO}"
    )
    return Prompt(positive=positive, negative=NEGATIVE)


def declutter_prompt() -> Prompt:
    """Prompt pair that empties a room instead of furnishing it."""
    return Prompt(positive=DECLUTTER_PROMPT, negative=DECLUTTER_NEGATIVE)


def catalog_dict() -> dict[str, list[dict[str, Any]]]:
    """``{"room_types": [{code, label}], "styles": [{code, label, swatch}]}`` (DESIGN §6)."""
    return {
        "room_types": [{"code": r.code, "label": r.label} for r in ROOM_TYPES],
        "styles": [{"code": s.code, "label": s.label, "swatch": s.swatch} for s in STYLES],
    }
