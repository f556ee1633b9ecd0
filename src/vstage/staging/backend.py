"""The contract between the staging engine and whatever runs the diffusion.

The engine does everything around the diffusion loop (decoding, masks, compositing, drift
checks); a :class:`Backend` only inpaints one working-resolution image. The diffusers
backend is the real one; tests and benchmarks plug in small classes of their own. This
module imports no ML library so that the API and the CLI can use it cheaply.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vstage.errors import ServiceUnavailable

RGBArray = npt.NDArray[np.uint8]  # H x W x 3
MaskArray = npt.NDArray[np.uint8]  # H x W, 255 = repaint, 0 = keep
ProgressFn = Callable[[int, int], None]  # (steps done, steps total)

#: Native working resolution (long side) per model family.
WORK_LONG_SIDE_BY_FAMILY = {"sd15": 768, "sdxl": 1024}


def load_module(name: str) -> Any:
    """Import a heavy, loosely typed ML library lazily (torch, diffusers, transformers)."""
    return importlib.import_module(name)


def offline() -> bool:
    """Downloads are off when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) says so."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def as_u8(array: Any) -> npt.NDArray[np.uint8]:
    """View an OpenCV result (typed as a generic Mat) as the uint8 array it is; no copy."""
    return np.asarray(array, dtype=np.uint8)


def as_f32(array: Any) -> npt.NDArray[np.float32]:
    return np.asarray(array, dtype=np.float32)


class ModelNotFound(ServiceUnavailable):
    """The configured model is neither a local folder nor available from the HF cache/Hub."""

    status_code = 503
    code = "model_not_found"


@dataclass(frozen=True)
class BackendInfo:
    """What produced an image: recorded in every result for reproducibility."""

    model: str
    model_revision: str
    controlnet: str | None
    controlnet_revision: str | None
    family: str  # "sd15" | "sdxl" | anything a test backend calls itself
    scheduler: str
    device: str
    dtype: str
    control_kind: str = "mlsd"  # which structure map the ControlNet expects: mlsd|canny|depth
    work_long_side: int = 768  # long side of the working resolution, multiple of 8
    memory_options: tuple[str, ...] = field(default_factory=tuple)


class Backend(Protocol):
    """Inpaint ``image`` where ``mask`` is 255, guided by the ControlNet ``control`` image.

    All three arrays share the working resolution (multiples of 8). The result has the
    same size. Implementations must be deterministic for a given seed and parameters.
    """

    @property
    def info(self) -> BackendInfo: ...

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
    ) -> RGBArray: ...
