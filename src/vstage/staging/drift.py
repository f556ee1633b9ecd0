"""Structural drift: did the model keep the room, or did it redraw the architecture?

Compositing already guarantees that protected pixels are untouched, so drift is measured
on the model's *raw* output, at working resolution, where it shows whether the model
"saw" the same room:

* in the protected ring just outside the mask, a few pixels off its border (where a
  redrawn window, a moved door or a shifted perspective shows first, and where a
  mismatch would leave a visible seam):
  1 - SSIM of the slightly blurred grayscale images, and 1 - F1 of their strong edges;
* inside the mask: how well the output's gradients still follow the room's long
  structural lines (floor/wall junctions, at any contrast). Furniture legitimately hides
  some of them, so this term weighs least.

The score is in [0, 1]; 0 means no drift. Above ``VSTAGE_DRIFT_THRESHOLD`` the engine tries
the next seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vstage.staging.backend import MaskArray, RGBArray, as_f32, as_u8
from vstage.staging.structure import auto_canny, canny_thresholds

Float = npt.NDArray[np.float32]

WEIGHTS = {"ssim": 0.5, "edges": 0.3, "structure": 0.2}
_MIN_EDGE_PIXELS = 40
_GAP_PX = 5  # Gaussian pre-blur (sigma 1) + SSIM window (sigma 1.5) reach


@dataclass(frozen=True)
class DriftReport:
    score: float
    ring_ssim: float | None  # mean SSIM in the protected ring, None when there is no ring
    ring_edge_f1: float | None  # F1 of strong edges in the ring, None when too few edges
    structure_agreement: float | None  # gradient agreement on structural lines in the mask

    def as_dict(self) -> dict[str, float | None]:
        return {k: (round(v, 4) if v is not None else None) for k, v in asdict(self).items()}


def ssim_map(a: Float, b: Float, sigma: float = 1.5) -> Float:
    """Per-pixel SSIM (Wang et al. 2004) of two float images in [0, 255]."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: Float) -> Float:
        return as_f32(cv2.GaussianBlur(x, (0, 0), sigma))

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    denominator = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return as_f32(numerator / denominator)


def _gray(rgb: RGBArray) -> npt.NDArray[np.uint8]:
    return as_u8(cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), 1.0))


def _f1(
    reference: npt.NDArray[np.bool_], candidate: npt.NDArray[np.bool_], tolerance: int
) -> float | None:
    ref_count, cand_count = int(reference.sum()), int(candidate.sum())
    if ref_count < _MIN_EDGE_PIXELS and cand_count < _MIN_EDGE_PIXELS:
        return None
    if ref_count == 0 or cand_count == 0:
        return 0.0
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    near_candidate = cv2.dilate(candidate.astype(np.uint8), kernel) > 0
    near_reference = cv2.dilate(reference.astype(np.uint8), kernel) > 0
    recall = float((reference & near_candidate).sum()) / ref_count
    precision = float((candidate & near_reference).sum()) / cand_count
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def gradient_agreement(
    source: npt.NDArray[np.uint8], output: npt.NDArray[np.uint8], where: npt.NDArray[np.bool_]
) -> float:
    """Normalised gradient correlation on ``where``: 1 when the output has the same lines
    (at any contrast), ~0.5 for unrelated texture, 0 for a flat output."""
    gx_s = as_f32(cv2.Sobel(source, cv2.CV_32F, 1, 0, ksize=3))[where]
    gy_s = as_f32(cv2.Sobel(source, cv2.CV_32F, 0, 1, ksize=3))[where]
    gx_o = as_f32(cv2.Sobel(output, cv2.CV_32F, 1, 0, ksize=3))[where]
    gy_o = as_f32(cv2.Sobel(output, cv2.CV_32F, 0, 1, ksize=3))[where]
    energy = float(np.sum(gx_s * gx_s + gy_s * gy_s)) * float(np.sum(gx_o * gx_o + gy_o * gy_o))
    if energy <= 1e-6:
        return 0.0
    dot = float(np.sum(np.abs(gx_s * gx_o + gy_s * gy_o)))
    return float(np.clip(dot / np.sqrt(energy), 0.0, 1.0))


def drift_score(
    source: RGBArray, output: RGBArray, mask: MaskArray, structure_lines: npt.NDArray[np.uint8]
) -> DriftReport:
    """Drift of ``output`` against ``source`` (same size) given the editable ``mask``."""
    height, width = mask.shape
    ring_px = max(6, round(0.04 * max(width, height)))
    editable = mask > 0
    # The ring starts a few pixels out: the blur and SSIM windows of pixels right at the
    # border see the edit itself, which is not drift. A distance transform is far cheaper
    # than dilating with a disc of radius ring_px.
    distance = as_f32(
        cv2.distanceTransform(np.where(editable, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
    )
    ring = (distance > _GAP_PX) & (distance <= ring_px)

    gray_src, gray_out = _gray(source), _gray(output)
    terms: dict[str, float] = {}
    ring_ssim: float | None = None
    ring_f1: float | None = None
    if ring.sum() >= 16:
        ssim = ssim_map(gray_src.astype(np.float32), gray_out.astype(np.float32))
        ring_ssim = float(np.clip(ssim[ring].mean(), -1.0, 1.0))
        terms["ssim"] = float(np.clip(1.0 - ring_ssim, 0.0, 1.0))
        thresholds = canny_thresholds(gray_src)  # the same thresholds for both images
        edges_src = auto_canny(gray_src, thresholds) > 0
        edges_out = auto_canny(gray_out, thresholds) > 0
        ring_f1 = _f1(edges_src & ring, edges_out & ring, tolerance=2)
        if ring_f1 is not None:
            terms["edges"] = 1.0 - ring_f1

    agreement: float | None = None
    on_lines = (structure_lines > 0) & editable
    if int(on_lines.sum()) >= _MIN_EDGE_PIXELS:
        agreement = gradient_agreement(gray_src, gray_out, on_lines)
        terms["structure"] = 1.0 - agreement

    if not terms:
        return DriftReport(0.0, ring_ssim, ring_f1, agreement)
    total_weight = sum(WEIGHTS[name] for name in terms)
    score = sum(WEIGHTS[name] * value for name, value in terms.items()) / total_weight
    return DriftReport(float(np.clip(score, 0.0, 1.0)), ring_ssim, ring_f1, agreement)
