"""Structure maps: the room's lines, edges and (optionally) depth at working resolution.

They do two jobs. Fed to the ControlNet, they pin the generated image to the room's
geometry (an M-LSD line map for ``*mlsd*`` ControlNets, Canny edges for ``*canny*``,
depth for ``*depth*``). Inside the engine, the line segments drive the geometric mask
heuristic and the drift check. Everything here runs on the small working copy, so it
costs milliseconds even for 12 MP photos.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vstage.staging.aux_models import load_processor_and_model
from vstage.staging.backend import as_u8

Gray = npt.NDArray[np.uint8]
Segments = npt.NDArray[np.float32]  # N x 4: x1, y1, x2, y2

_lsd_lock = threading.Lock()


@dataclass(frozen=True)
class StructureMap:
    """Geometry of one working-resolution image."""

    segments: Segments  # long straight line segments (architecture candidates)
    lines: Gray  # segments drawn white on black (M-LSD style)
    edges: Gray  # Canny edges, 255 on 0
    depth: Gray | None  # 0 = far, 255 = near; None without a depth model

    def control_image(self, kind: str) -> npt.NDArray[np.uint8]:
        """The 3-channel conditioning image a ControlNet of ``kind`` expects."""
        if kind == "depth" and self.depth is not None:
            source = self.depth
        elif kind == "canny":
            source = self.edges
        else:
            source = self.lines
        return np.repeat(source[:, :, None], 3, axis=2)


def control_kind_for(controlnet_id: str | None) -> str:
    """Guess the conditioning a ControlNet was trained on from its name (mlsd by default)."""
    name = (controlnet_id or "").lower()
    for kind in ("depth", "canny", "mlsd"):
        if kind in name:
            return kind
    return "mlsd"


def canny_thresholds(gray: Gray, sigma: float = 0.33) -> tuple[int, int]:
    """Canny thresholds around the median intensity (works across exposures)."""
    median = float(np.median(gray))
    low = int(max(10.0, (1.0 - sigma) * median))
    high = int(min(255.0, max(low + 30.0, (1.0 + sigma) * median)))
    return low, high


def auto_canny(gray: Gray, thresholds: tuple[int, int] | None = None) -> Gray:
    """Canny edges, with thresholds from :func:`canny_thresholds` unless given."""
    low, high = thresholds or canny_thresholds(gray)
    return as_u8(cv2.Canny(gray, low, high, L2gradient=True))


def detect_segments(gray: Gray, min_length_frac: float = 0.04) -> Segments:
    """Straight line segments (LSD) at least ``min_length_frac`` of the diagonal long."""
    with _lsd_lock:  # LSD detectors are not documented as thread-safe
        detector = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD)
        found = detector.detect(gray)[0]
    if found is None:
        return np.zeros((0, 4), np.float32)
    segments = found.reshape(-1, 4).astype(np.float32)
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    min_length = min_length_frac * math.hypot(gray.shape[0], gray.shape[1])
    keep: Segments = segments[lengths >= min_length]
    return keep


def draw_segments(shape: tuple[int, int], segments: Segments, thickness: int = 1) -> Gray:
    canvas = np.zeros(shape, np.uint8)
    for x1, y1, x2, y2 in segments:
        cv2.line(
            canvas,
            (round(float(x1)), round(float(y1))),
            (round(float(x2)), round(float(y2))),
            255,
            thickness,
            cv2.LINE_AA,
        )
    return canvas


def build_structure(
    rgb: npt.NDArray[np.uint8], depth: DepthEstimator | None = None
) -> StructureMap:
    """Lines, edges and optional depth of a working-resolution RGB image."""
    gray = as_u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    smooth = as_u8(cv2.GaussianBlur(gray, (0, 0), 1.0))
    segments = detect_segments(smooth)
    thickness = max(1, round(max(gray.shape) / 512))
    return StructureMap(
        segments=segments,
        lines=draw_segments(gray.shape, segments, thickness),
        edges=auto_canny(smooth),
        depth=depth.estimate(rgb) if depth is not None else None,
    )


class DepthEstimator:
    """Monocular depth with a transformers model (e.g. Depth Anything, DPT), loaded once.

    The model id or local folder comes from ``VSTAGE_DEPTH_MODEL``; offline, only local
    folders and the HF cache are used (``local_files_only``), so a missing model is a
    :class:`ModelNotFound` rather than a network hang.
    """

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.model_id = model
        self.device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_processor_and_model(
                self.model_id, "AutoModelForDepthEstimation", "depth", self.device
            )
        return self._loaded

    def estimate(self, rgb: npt.NDArray[np.uint8]) -> Gray:
        import torch

        with self._lock:
            processor, model = self._load()
            inputs = processor(images=rgb, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                predicted = model(**inputs).predicted_depth
        depth = predicted.squeeze().float().cpu().numpy()
        depth = cv2.resize(depth, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_CUBIC)
        low, high = float(depth.min()), float(depth.max())
        scaled = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
        result: Gray = np.clip(scaled * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return result
