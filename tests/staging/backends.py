"""Small real backends for engine tests: they implement the Backend protocol honestly.

``PaintBackend`` behaves like a well-mannered model: it recolours only inside the mask and
returns every other pixel unchanged. ``DistortingBackend`` behaves like a model that
redraws the room: for its first ``bad_calls`` calls it shifts and blurs the whole image
(protected pixels included), then it behaves.
"""

from __future__ import annotations

import cv2
import numpy as np

from vstage.staging.backend import BackendInfo, MaskArray, ProgressFn, RGBArray


def _info(name: str) -> BackendInfo:
    return BackendInfo(
        model=f"test/{name}",
        model_revision="test",
        controlnet=None,
        controlnet_revision=None,
        family="test",
        scheduler="none",
        device="cpu",
        dtype="uint8",
        work_long_side=256,
    )


class PaintBackend:
    """Tints the mask with a colour chosen by the seed, keeping the room's lines visible
    through it (as a ControlNet-guided model would); leaves every other pixel untouched."""

    def __init__(self) -> None:
        self.info = _info("paint")
        self.seeds: list[int] = []

    def inpaint(
        self,
        image: RGBArray,
        mask: MaskArray,
        control: RGBArray,
        *,
        prompt: str,
        negative_prompt: str,
        seed: int,
        steps: int,
        guidance: float,
        strength: float,
        progress: ProgressFn | None = None,
    ) -> RGBArray:
        self.seeds.append(seed)
        rng = np.random.default_rng(seed)
        out = image.copy()
        tint = rng.integers(0, 256, 3).astype(np.float32)
        inside = mask > 0
        out[inside] = (image[inside].astype(np.float32) * 0.6 + tint * 0.4).astype(np.uint8)
        for step in range(steps):
            if progress is not None:
                progress(step + 1, steps)
        return out


class DistortingBackend(PaintBackend):
    """Moves the architecture (shift + blur everywhere) on its first ``bad_calls`` calls."""

    def __init__(self, bad_calls: int) -> None:
        super().__init__()
        self.info = _info("distorting")
        self.bad_calls = bad_calls

    def inpaint(
        self, image: RGBArray, mask: MaskArray, control: RGBArray, **kwargs: object
    ) -> RGBArray:
        painted = super().inpaint(image, mask, control, **kwargs)  # type: ignore[arg-type]
        if len(self.seeds) > self.bad_calls:
            return painted
        shifted = np.roll(painted, (image.shape[0] // 12, image.shape[1] // 10), axis=(0, 1))
        blurred: RGBArray = np.asarray(cv2.GaussianBlur(shifted, (0, 0), 3.0), dtype=np.uint8)
        return blurred
