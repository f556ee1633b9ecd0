"""The staging engine: one photo in, one furnished (or emptied) photo out.

decode → orient → strip → normalise → structure map → mask → inpaint → drift check
(retry with the next seed while above the threshold, bounded) → composite at full
resolution → encode. Everything except the diffusion loop runs on NumPy/OpenCV and costs
well under a second even for 12 MP photos.

The worker calls :meth:`StagingEngine.stage` / :meth:`StagingEngine.declutter`; the CLI
does too. One engine loads its pipeline once and reuses it. Results are reproducible:
the same input, seed, model and parameters give the same bytes on the same machine, and
``StageResult.params`` records everything needed to redo them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from vstage.config import Settings
from vstage.errors import InvalidInput
from vstage.staging import catalog
from vstage.staging.backend import (
    WORK_LONG_SIDE_BY_FAMILY,
    Backend,
    MaskArray,
    ProgressFn,
    RGBArray,
)
from vstage.staging.composite import (
    bounding_box,
    composite,
    full_resolution_alpha,
    resize_to,
    scaled_box,
    upscale_mask,
    work_size,
)
from vstage.staging.drift import DriftReport, drift_score
from vstage.staging.imageio import (
    CONTENT_TYPES,
    DecodedImage,
    OutputFormat,
    decode_image,
    decode_preview,
    encode_image,
    encode_mask_png,
)
from vstage.staging.mask import (
    EditableMask,
    SegmentationMasker,
    downscale_mask,
    feather,
    feather_radius,
    heuristic_mask,
    load_user_mask,
)
from vstage.staging.structure import DepthEstimator, StructureMap, build_structure

ENGINE_VERSION = "1"
MAX_SEED = 2**63 - 1  # seeds are stored in a BIGINT column


@dataclass(frozen=True)
class StageParams:
    """What a client asks for; None means "the configured default"."""

    room_type: str
    style: str
    seed: int
    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None
    output_format: Literal["jpeg", "png"] | None = None  # None = png if input png else jpeg


@dataclass(frozen=True)
class StageResult:
    """The encoded output, its mask (white = edited), and the full record of how."""

    image_bytes: bytes
    content_type: str
    mask_png: bytes
    width: int
    height: int
    params: dict[str, Any]

    @property
    def extension(self) -> str:
        return "png" if self.content_type == "image/png" else "jpg"


def variation_seeds(base_seed: int, k: int) -> list[int]:
    """Seeds for variations 1..k: the base seed first, then seeds derived by hashing.

    Deterministic, so re-running a request with the same base seed recreates every
    variation, and independent of the retry seeds (base + 1, base + 2 …).
    """
    if k < 1:
        raise InvalidInput("variations must be at least 1")
    _check_seed(base_seed)
    seeds = [base_seed]
    for index in range(1, k):
        digest = hashlib.sha256(f"vstage-variation:{base_seed}:{index}".encode()).digest()
        seeds.append(int.from_bytes(digest[:8], "big") & MAX_SEED)
    return seeds


def _check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"seed must be between 0 and {MAX_SEED}")


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 4)


@dataclass(frozen=True)
class _Diffusion:
    prompt: catalog.Prompt
    seed: int
    steps: int
    guidance: float
    strength: float
    output_format: OutputFormat | None
    extra: dict[str, Any]


class StagingEngine:
    """Orchestrates one staging job; thread-safe, pipeline loaded lazily and once."""

    def __init__(self, settings: Settings, backend: Backend | None = None) -> None:
        self.settings = settings
        self._backend = backend
        self._lock = threading.Lock()
        self._depth = DepthEstimator(settings.depth_model) if settings.depth_model else None
        self._segmenter = (
            SegmentationMasker(settings.segmentation_model) if settings.segmentation_model else None
        )
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vstage-io")

    def close(self) -> None:
        """Stop the engine's I/O threads (the pipeline is freed with the engine)."""
        self._pool.shutdown(wait=True)

    def _preview_side(self) -> int:
        """Long side the reduced decode must reach: the working size, or the largest one."""
        if self._backend is not None:
            return self._backend.info.work_long_side
        return self.settings.work_size or max(WORK_LONG_SIDE_BY_FAMILY.values())

    @property
    def backend(self) -> Backend:
        """The backend, loading the diffusers pipeline on first use (ModelNotFound if absent)."""
        with self._lock:
            if self._backend is None:
                from vstage.staging.diffusers_backend import DiffusersBackend

                self._backend = DiffusersBackend(self.settings)
            return self._backend

    # ------------------------------------------------------------------ public API

    def stage(
        self,
        data: bytes,
        params: StageParams,
        *,
        user_mask: bytes | None = None,
        progress: ProgressFn | None = None,
    ) -> StageResult:
        """Furnish the room in ``data`` as ``params.room_type`` in ``params.style``."""
        prompt = catalog.build_prompt(params.room_type, params.style)
        job = self._diffusion(
            prompt,
            params.seed,
            params.steps,
            params.guidance,
            params.strength,
            params.output_format,
            {"mode": "stage", "room_type": params.room_type, "style": params.style},
        )
        return self._run(data, job, user_mask, progress)

    def declutter(
        self,
        data: bytes,
        *,
        seed: int,
        user_mask: bytes | None = None,
        progress: ProgressFn | None = None,
        output_format: Literal["jpeg", "png"] | None = None,
    ) -> StageResult:
        """Remove furniture inside the detected (or given) mask: an "empty room" prompt."""
        job = self._diffusion(
            catalog.declutter_prompt(), seed, None, None, None, output_format, {"mode": "declutter"}
        )
        return self._run(data, job, user_mask, progress)

    # ------------------------------------------------------------------ internals

    def _diffusion(
        self,
        prompt: catalog.Prompt,
        seed: int,
        steps: int | None,
        guidance: float | None,
        strength: float | None,
        output_format: OutputFormat | None,
        extra: dict[str, Any],
    ) -> _Diffusion:
        _check_seed(seed)
        steps = self.settings.steps if steps is None else steps
        guidance = self.settings.guidance if guidance is None else guidance
        strength = self.settings.strength if strength is None else strength
        if not 1 <= steps <= 150:
            raise InvalidInput("steps must be between 1 and 150")
        if not 0.0 <= guidance <= 30.0:
            raise InvalidInput("guidance must be between 0 and 30")
        if not 0.0 < strength <= 1.0:
            raise InvalidInput("strength must be in (0, 1]")
        if output_format not in (None, "jpeg", "png"):
            raise InvalidInput("output_format must be jpeg or png")
        return _Diffusion(prompt, seed, steps, guidance, strength, output_format, extra)

    def _mask(
        self,
        work: RGBArray,
        structure: StructureMap,
        user_mask: bytes | None,
        width: int,
        height: int,
    ) -> tuple[EditableMask, MaskArray]:
        """(working-resolution mask, full-resolution binary mask)."""
        work_h, work_w = work.shape[:2]
        if user_mask is not None:
            full = load_user_mask(user_mask, width, height, self.settings.max_pixels)
            small = downscale_mask(full, work_w, work_h)
            if not small.any():
                raise InvalidInput("mask is too thin: nothing editable at working resolution")
            return EditableMask(small, "user"), full
        if self._segmenter is not None:
            editable = self._segmenter.mask(work)
        else:
            editable = heuristic_mask(work, structure)
        return editable, upscale_mask(editable.binary, width, height)

    def _run(
        self, data: bytes, job: _Diffusion, user_mask: bytes | None, progress: ProgressFn | None
    ) -> StageResult:
        timer = _Timer()
        started = time.perf_counter()
        max_pixels = self.settings.max_pixels
        # The full-resolution decode is only needed for compositing: it runs in a worker
        # thread (OpenCV releases the GIL) while a reduced decode feeds everything else.
        full: Future[DecodedImage] = self._pool.submit(decode_image, data, max_pixels)
        try:
            with timer.stage("decode"):
                preview = decode_preview(data, max_pixels, self._preview_side())
                decoded = full.result() if preview is None else None
            with timer.stage("load"):
                backend = self.backend
                info = backend.info
        except BaseException:
            full.cancel()
            raise
        width, height = (preview.width, preview.height) if preview else _size(decoded)
        with timer.stage("normalise"):
            work_w, work_h = work_size(width, height, info.work_long_side)
            source = preview.pixels if preview is not None else _pixels(decoded)
            work = resize_to(source, (work_w, work_h))
        with timer.stage("structure"):
            structure = build_structure(work, self._depth)
            control = structure.control_image(info.control_kind)
        with timer.stage("mask"):
            editable, full_binary = self._mask(work, structure, user_mask, width, height)
            alpha_work = feather(editable.binary, feather_radius(work_w, work_h))

        attempts = self.settings.drift_retries + 1
        tried: list[tuple[int, DriftReport]] = []
        best: tuple[RGBArray, int, DriftReport] | None = None
        for attempt in range(attempts):
            seed = (job.seed + attempt) % (MAX_SEED + 1)
            with timer.stage("diffusion"):
                raw = backend.inpaint(
                    work,
                    editable.binary,
                    control,
                    prompt=job.prompt.positive,
                    negative_prompt=job.prompt.negative,
                    seed=seed,
                    steps=job.steps,
                    guidance=job.guidance,
                    strength=job.strength,
                    progress=_cumulative(progress, attempt),
                )
            if raw.shape != work.shape:
                raise RuntimeError(f"backend returned {raw.shape}, expected {work.shape}")
            with timer.stage("drift"):
                report = drift_score(work, raw, editable.binary, structure.lines)
            tried.append((seed, report))
            if best is None or report.score < best[2].score:
                best = (raw, seed, report)
            if report.score <= self.settings.drift_threshold:
                break
        assert best is not None
        raw, used_seed, report = best

        with timer.stage("composite"):
            alpha_full = full_resolution_alpha(alpha_work, full_binary)
            mask_png_future = self._pool.submit(encode_mask_png, alpha_full)
            decoded = full.result()
            if (decoded.width, decoded.height) != (width, height):
                raise RuntimeError("full and reduced decodes disagree on the image size")
            box = scaled_box(bounding_box(alpha_work), (work_w, work_h), (width, height))
            pixels = composite(decoded.pixels, raw, alpha_full, box=box, in_place=True)
        output_format: OutputFormat = job.output_format or (
            "png" if decoded.format == "png" else "jpeg"
        )
        with timer.stage("encode"):
            image_bytes = encode_image(pixels, output_format, self.settings.jpeg_quality)
            mask_png = mask_png_future.result()
        timer.timings["total"] = round(time.perf_counter() - started, 4)

        params: dict[str, Any] = {
            "engine_version": ENGINE_VERSION,
            **job.extra,
            "prompt": job.prompt.positive,
            "negative_prompt": job.prompt.negative,
            "model": info.model,
            "model_revision": info.model_revision,
            "controlnet": info.controlnet,
            "controlnet_revision": info.controlnet_revision,
            "family": info.family,
            "scheduler": info.scheduler,
            "device": info.device,
            "dtype": info.dtype,
            "memory_options": list(info.memory_options),
            "control_kind": info.control_kind,
            "controlnet_scale": self.settings.controlnet_scale,
            "steps": job.steps,
            "guidance": job.guidance,
            "strength": job.strength,
            "requested_seed": job.seed,
            "seed": used_seed,
            "seeds_tried": [seed for seed, _ in tried],
            "drift_scores": [round(r.score, 4) for _, r in tried],
            "drift_score": round(report.score, 4),
            "drift": report.as_dict(),
            "drift_threshold": self.settings.drift_threshold,
            "drift_exceeded": report.score > self.settings.drift_threshold,
            "mask_source": editable.source,
            "mask_sha256": hashlib.sha256(mask_png).hexdigest(),
            "editable_fraction": round(editable.editable_fraction, 4),
            "protected_regions": _full_resolution_boxes(editable, width / work_w, height / work_h),
            "input_format": decoded.format,
            "output_format": output_format,
            "width": width,
            "height": height,
            "work_width": work_w,
            "work_height": work_h,
            "timings": timer.timings,
        }
        return StageResult(
            image_bytes=image_bytes,
            content_type=CONTENT_TYPES[output_format],
            mask_png=mask_png,
            width=width,
            height=height,
            params=params,
        )


def _size(decoded: DecodedImage | None) -> tuple[int, int]:
    assert decoded is not None
    return decoded.width, decoded.height


def _pixels(decoded: DecodedImage | None) -> RGBArray:
    assert decoded is not None
    return decoded.pixels


def _full_resolution_boxes(editable: EditableMask, sx: float, sy: float) -> list[dict[str, Any]]:
    """Protected regions found by the mask heuristic, in the photo's pixel coordinates."""
    return [
        {
            "kind": region.kind,
            "box": [round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)],
        }
        for region in editable.protected
        for x0, y0, x1, y1 in [region.box]
    ]


def _cumulative(progress: ProgressFn | None, attempt: int) -> ProgressFn | None:
    """Progress over retries: attempt k reports k·n + i of (k + 1)·n steps."""
    if progress is None:
        return None
    report: Callable[[int, int], None] = progress

    def forward(done: int, total: int) -> None:
        report(attempt * total + done, (attempt + 1) * total)

    return forward
