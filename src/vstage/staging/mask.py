"""The editable mask: where furniture may appear, and where the architecture must stay.

Editable = the floor plus a band of wall above it; protected = ceiling, windows, doors and
fixtures. Three sources, in order of precedence:

1. a user-supplied mask (white = editable), resized to the photo with nearest neighbour;
2. a semantic segmentation model (transformers, ADE20K labels) when
   ``VSTAGE_SEGMENTATION_MODEL`` is set;
3. a geometric heuristic on the structure map: the floor line and ceiling line bound a
   band; bright rectangles (windows, light fixtures) and rectangles framed by edges or by
   pairs of long vertical lines (doors, windows, built-ins) reaching up into the wall are
   cut out of it.

Masks are computed at working resolution; feathering fades the edit out *inside* the
mask, so every pixel outside it stays exactly as it was after compositing.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from vstage.errors import InvalidInput, UnsupportedMediaType
from vstage.staging.aux_models import load_processor_and_model
from vstage.staging.backend import MaskArray, as_u8
from vstage.staging.imageio import sniff_format
from vstage.staging.structure import StructureMap

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
MaskSource = Literal["user", "heuristic", "segmentation"]

#: Fraction of the height above the floor line that stays editable (the "wall band").
WALL_BAND = 0.30
#: Default floor line (fraction of height) when none is found.
DEFAULT_FLOOR = 0.62
#: Ceiling band protected when no ceiling line is found.
DEFAULT_CEILING = 0.18


@dataclass(frozen=True)
class Protected:
    kind: str  # window | door | frame | fixture | ceiling | segmentation class name
    box: Box


@dataclass(frozen=True)
class EditableMask:
    """A binary editable mask at working resolution (255 = editable) and why it looks so."""

    binary: MaskArray
    source: MaskSource
    protected: tuple[Protected, ...] = field(default_factory=tuple)
    floor_y: int | None = None
    ceiling_y: int | None = None

    @property
    def editable_fraction(self) -> float:
        return float(np.count_nonzero(self.binary)) / float(self.binary.size)


# --------------------------------------------------------------------------- user masks


def load_user_mask(data: bytes, width: int, height: int, max_pixels: int) -> MaskArray:
    """A user's mask image (white = editable) as a 0/255 mask of exactly ``width x height``.

    Transparent pixels count as black, so a brush stroke on a transparent layer works.
    """
    fmt = sniff_format(data[:64])
    if fmt is None or fmt == "heif":
        raise UnsupportedMediaType("mask must be a PNG, JPEG or WebP image (white = editable)")
    try:
        image = Image.open(
            io.BytesIO(data), formats=[{"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]]
        )
        if image.size[0] * image.size[1] > max_pixels:
            raise InvalidInput(
                f"mask is {image.size[0]}x{image.size[1]}, above the {max_pixels} px limit"
            )
        image.load()
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"corrupt or truncated mask image ({exc})") from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        gray = Image.alpha_composite(black, rgba).convert("L")
    else:
        gray = image.convert("L")
    arr = np.asarray(gray)
    if arr.shape != (height, width):
        arr = cv2.resize(arr, (width, height), interpolation=cv2.INTER_NEAREST)
    binary: MaskArray = np.where(arr >= 128, 255, 0).astype(np.uint8)
    if not binary.any():
        raise InvalidInput("mask has no editable (white) pixels")
    return binary


def downscale_mask(full: MaskArray, width: int, height: int) -> MaskArray:
    """Working-resolution copy of a full-resolution binary mask (majority vote per cell)."""
    small = cv2.resize(full, (width, height), interpolation=cv2.INTER_AREA)
    result: MaskArray = np.where(small >= 128, 255, 0).astype(np.uint8)
    return result


# -------------------------------------------------------------------------- feathering


def feather(binary: MaskArray, radius: int) -> MaskArray:
    """Soft alpha that is 255 deep inside the mask and fades to 0 *at* its border.

    Erode, then blur: the blur can only spread back to the original border, and the final
    minimum with ``binary`` makes sure nothing outside the mask gets a non-zero weight.
    """
    if radius <= 0:
        return binary.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    core = cv2.erode(binary, kernel, borderType=cv2.BORDER_REPLICATE)
    soft = cv2.GaussianBlur(core, (0, 0), sigmaX=radius / 2.0, borderType=cv2.BORDER_REPLICATE)
    alpha: MaskArray = np.minimum(soft, binary)
    return alpha


def feather_radius(width: int, height: int) -> int:
    return max(2, round(0.012 * max(width, height)))


# --------------------------------------------------------------------------- heuristic


def _angle_classes(
    segments: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    dx = segments[:, 2] - segments[:, 0]
    dy = segments[:, 3] - segments[:, 1]
    angle = np.degrees(np.arctan2(np.abs(dy), np.abs(dx)))
    return angle <= 12.0, angle >= 78.0  # horizontal-ish, vertical-ish


def _horizontal_line_y(
    segments: npt.NDArray[np.float32], width: int, y_low: float, y_high: float, pick: str
) -> int | None:
    """y of the longest near-horizontal line spanning ≥ 25 % of the width within a band."""
    if len(segments) == 0:
        return None
    horizontal, _ = _angle_classes(segments)
    ys = (segments[:, 1] + segments[:, 3]) / 2.0
    lengths = np.abs(segments[:, 2] - segments[:, 0])
    candidates = horizontal & (lengths >= 0.25 * width) & (ys >= y_low) & (ys <= y_high)
    if not candidates.any():
        return None
    chosen_ys = ys[candidates]
    chosen = chosen_ys.max() if pick == "lowest" else chosen_ys.min()
    return round(float(chosen))


def _bright_regions(gray: npt.NDArray[np.uint8], min_area: int, max_area: int) -> list[Box]:
    """Blown-out or sky-bright rectangles: windows, glass doors and light fixtures."""
    median = float(np.median(gray))
    threshold = min(245.0, max(190.0, median + 0.55 * (255.0 - median)))
    bright = np.where(gray >= threshold, 255, 0).astype(np.uint8)
    bright = as_u8(cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    boxes: list[Box] = []
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        if min_area <= area <= max_area and area >= 0.45 * w * h:
            boxes.append((x, y, x + w, y + h))
    return boxes


def _edge_rectangles(
    edges: npt.NDArray[np.uint8], min_area: int, max_area: int, min_h: int
) -> list[Box]:
    """Closed, axis-aligned rectangles in the edge map (door leaves, window frames)."""
    closed = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(closed, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[Box] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        box_area = w * h
        if not (min_area <= box_area <= max_area) or h < min_h:
            continue
        if cv2.contourArea(contour) >= 0.8 * box_area and 0.2 <= h / max(w, 1) <= 5.0:
            boxes.append((x, y, x + w, y + h))
    return boxes


def _vertical_pairs(
    segments: npt.NDArray[np.float32], width: int, height: int, ceiling_y: int
) -> list[Box]:
    """Openings framed by two long verticals joined by a lintel below the ceiling."""
    if len(segments) == 0:
        return []
    horizontal, vertical = _angle_classes(segments)
    verts = [
        (float((s[0] + s[2]) / 2), float(min(s[1], s[3])), float(max(s[1], s[3])))
        for s in segments[vertical]
        if abs(float(s[3] - s[1])) >= 0.2 * height
    ]
    lintels = segments[horizontal]
    boxes: list[Box] = []
    for i, (xa, ta, ba) in enumerate(verts):
        for xb, tb, bb in verts[i + 1 :]:
            left, right = min(xa, xb), max(xa, xb)
            gap = right - left
            if not (0.06 * width <= gap <= 0.45 * width):
                continue
            overlap = min(ba, bb) - max(ta, tb)
            if overlap < 0.7 * min(ba - ta, bb - tb):
                continue
            top = min(ta, tb)
            if top <= ceiling_y + 0.05 * height:
                continue  # two room corners under the ceiling line are not an opening
            for lx1, ly1, lx2, ly2 in lintels:
                span = min(max(lx1, lx2), right) - max(min(lx1, lx2), left)
                if span >= 0.6 * gap and abs((ly1 + ly2) / 2 - top) <= 0.05 * height:
                    boxes.append((int(left), int(top), int(right) + 1, int(max(ba, bb)) + 1))
                    break
    return boxes


def _grow(box: Box, margin: int, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return (
        max(0, x0 - margin),
        max(0, y0 - margin),
        min(width, x1 + margin),
        min(height, y1 + margin),
    )


def heuristic_mask(rgb: npt.NDArray[np.uint8], structure: StructureMap) -> EditableMask:
    """Floor + wall band minus ceiling, windows, doors and fixtures, from geometry alone."""
    height, width = rgb.shape[:2]
    gray = as_u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    segments = structure.segments
    floor_y = _horizontal_line_y(segments, width, 0.45 * height, 0.9 * height, "highest")
    floor_y = floor_y if floor_y is not None else round(DEFAULT_FLOOR * height)
    ceiling_y = _horizontal_line_y(segments, width, 0.03 * height, 0.4 * height, "lowest")
    ceiling_y = ceiling_y if ceiling_y is not None else round(DEFAULT_CEILING * height)
    band_top = max(ceiling_y + round(0.03 * height), floor_y - round(WALL_BAND * height))

    editable = np.zeros((height, width), np.uint8)
    editable[band_top:, :] = 255
    protected: list[Protected] = [Protected("ceiling", (0, 0, width, band_top))]

    area = width * height
    margin = max(2, round(0.015 * max(width, height)))
    for box in _bright_regions(gray, int(0.002 * area), int(0.35 * area)):
        kind = "fixture" if box[3] <= band_top else "window"
        protected.append(Protected(kind, box))
    reach = band_top + round(0.05 * height)  # must reach up into the wall to be an opening
    for box in _edge_rectangles(
        structure.edges, int(0.01 * area), int(0.4 * area), round(0.15 * height)
    ):
        if box[1] <= reach:
            kind = "door" if box[3] >= floor_y - 0.05 * height else "frame"
            protected.append(Protected(kind, box))
    for box in _vertical_pairs(segments, width, height, ceiling_y):
        if box[1] <= reach:
            kind = "door" if box[3] >= floor_y - 0.05 * height else "window"
            protected.append(Protected(kind, box))

    protected = _dedupe(protected)
    for item in protected[1:]:
        x0, y0, x1, y1 = _grow(item.box, margin, width, height)
        editable[y0:y1, x0:x1] = 0
    editable = _drop_specks(editable, int(0.003 * area))
    if np.count_nonzero(editable) < 0.02 * area:  # nothing sensible found: the floor only
        editable[max(floor_y, round(0.65 * height)) :, :] = 255
        for item in protected[1:]:
            x0, y0, x1, y1 = _grow(item.box, margin, width, height)
            editable[y0:y1, x0:x1] = 0
    return EditableMask(editable, "heuristic", tuple(protected), floor_y, ceiling_y)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _dedupe(regions: list[Protected]) -> list[Protected]:
    """Drop regions that repeat an earlier one (the same door found by two detectors)."""
    kept: list[Protected] = []
    for region in regions:
        if all(_iou(region.box, other.box) < 0.7 for other in kept):
            kept.append(region)
    return kept


def _drop_specks(mask: MaskArray, min_area: int) -> MaskArray:
    """Remove editable islands too small to hold furniture (slivers between openings)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if count <= 2:
        return mask
    small = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] < min_area]
    if small:
        mask = mask.copy()
        mask[np.isin(labels, small)] = 0
    return mask


# ------------------------------------------------------------------------ segmentation

#: ADE20K class names (as in model configs' id2label) by role.
EDITABLE_CLASSES = frozenset(
    {
        "floor",
        "flooring",
        "rug",
        "carpet",
        "bed",
        "sofa",
        "couch",
        "chair",
        "armchair",
        "swivel chair",
        "table",
        "desk",
        "coffee table",
        "cushion",
        "pillow",
        "box",
        "ottoman",
        "bench",
        "stool",
        "plant",
        "flower",
        "pot",
        "basket",
        "vase",
        "bag",
        "chest of drawers",
        "wardrobe",
        "bookcase",
        "shelf",
        "television receiver",
        "clock",
    }
)
PROTECTED_CLASSES = frozenset(
    {
        "ceiling",
        "windowpane",
        "window",
        "door",
        "double door",
        "screen door",
        "curtain",
        "blind",
        "lamp",
        "light",
        "chandelier",
        "sconce",
        "stairs",
        "stairway",
        "step",
        "railing",
        "bannister",
        "column",
        "pillar",
        "fireplace",
        "radiator",
        "bathtub",
        "toilet",
        "sink",
        "shower",
        "countertop",
        "kitchen island",
        "stove",
        "oven",
        "refrigerator",
        "dishwasher",
        "mirror",
        "painting",
        "fan",
        "air conditioning",
    }
)


class SegmentationMasker:
    """Editable mask from an ADE20K semantic segmentation model (SegFormer, UperNet …)."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.model_id = model
        self.device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_processor_and_model(
                self.model_id, "AutoModelForSemanticSegmentation", "segmentation", self.device
            )
        return self._loaded

    def labels(self, rgb: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int32], dict[int, str]]:
        """Per-pixel class ids at the image's size, and the id → name table."""
        import torch

        with self._lock:
            processor, model = self._load()
            inputs = processor(images=rgb, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                logits = model(**inputs).logits
            upsampled = torch.nn.functional.interpolate(
                logits, size=rgb.shape[:2], mode="bilinear", align_corners=False
            )
            ids = upsampled.argmax(dim=1)[0].cpu().numpy().astype(np.int32)
        names = {int(k): str(v).lower() for k, v in model.config.id2label.items()}
        return ids, names

    def mask(self, rgb: npt.NDArray[np.uint8]) -> EditableMask:
        return mask_from_labels(*self.labels(rgb))


def _base_name(name: str) -> str:
    return name.split(",")[0].strip()


def mask_from_labels(ids: npt.NDArray[np.int32], names: dict[int, str]) -> EditableMask:
    """Editable mask from a per-pixel ADE20K label map.

    Floor, rugs and movable furniture are editable, and so is wall within the band above
    the floor line; windows, doors, ceiling, fixtures (and a small margin around them)
    are not.
    """
    height, width = ids.shape
    roles = {i: _role(name) for i, name in names.items()}
    editable_ids = [i for i, role in roles.items() if role == "editable"]
    protected_ids = [i for i, role in roles.items() if role == "protected"]
    wall_ids = [i for i, name in names.items() if _base_name(name) == "wall"]
    floor_ids = [
        i for i, name in names.items() if _base_name(name) in ("floor", "flooring", "rug", "carpet")
    ]
    editable = np.isin(ids, editable_ids)
    floor_ys = np.nonzero(np.isin(ids, floor_ids))[0]
    # A robust floor line: stray floor pixels high up in the frame do not move it.
    floor_top = int(np.percentile(floor_ys, 2)) if len(floor_ys) else round(DEFAULT_FLOOR * height)
    band_top = max(0, floor_top - round(WALL_BAND * height))
    wall_band = np.isin(ids, wall_ids)
    wall_band[:band_top] = False
    editable |= wall_band
    protected = np.isin(ids, protected_ids).astype(np.uint8) * 255
    margin = max(2, round(0.01 * max(width, height)))
    protected = as_u8(cv2.dilate(protected, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)))
    binary = np.where(editable & (protected == 0), 255, 0).astype(np.uint8)
    binary = _drop_specks(binary, int(0.002 * height * width))
    return EditableMask(binary, "segmentation", (), floor_top, None)


def _role(name: str) -> str:
    parts = {part.strip() for part in name.split(",")}
    if parts & PROTECTED_CLASSES:
        return "protected"
    if parts & EDITABLE_CLASSES:
        return "editable"
    return "other"
