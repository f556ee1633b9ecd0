# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""Staging engine benchmark (issue 5).

CPU, always: the cost of everything around the diffusion loop — decode, orient, strip,
normalise, structure map, mask, drift check, full-resolution composite, encode (image and
mask) — for a 12 MP JPEG, measured through ``StagingEngine`` with a backend whose
"diffusion" is a trivial tint (its time is subtracted anyway). The same steps done the
obvious Pillow-only way (Lanczos resizes, edge filter, feathering and compositing at full
resolution, default PNG compression) run in the same process as the baseline.

GPU, when CUDA is available and the configured model (``VSTAGE_MODEL``) is present:
seconds per 1024-px image with vstage's settings (scheduler, steps, fp16, memory options)
against a plain diffusers call with default settings. Otherwise those two fields are null.

The last line printed is one JSON object:
``{"bench": "engine", "device", "overhead_s_12mp", "naive_overhead_s_12mp",
"overhead_ratio", "gpu_s_per_image", "gpu_baseline_s_per_image"}``.

Run: ``.venv/bin/python benchmarks/engine.py [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path; a sibling benchmark named like a
# standard module (queue.py) would then shadow it for torch and everything else.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import io
import json
import platform
import statistics
import time
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from vstage.config import Settings
from vstage.errors import VstageError
from vstage.staging.backend import BackendInfo, MaskArray, ProgressFn, RGBArray
from vstage.staging.engine import StageParams, StagingEngine

WIDTH, HEIGHT = 4000, 3000
WORK_LONG_SIDE = 768


def photo_12mp(seed: int = 0) -> bytes:
    """A 12 MP room-like JPEG with sensor noise (so it has a realistic 3-5 MB entropy)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    ceiling, floor = int(0.18 * HEIGHT), int(0.68 * HEIGHT)
    img[:ceiling] = (236, 236, 232)
    img[ceiling:floor] = (200, 190, 175)
    img[floor:] = (140, 100, 70)
    cv2.rectangle(img, (480, 840), (1400, 1650), (215, 235, 255), -1)  # window
    cv2.rectangle(img, (480, 840), (1400, 1650), (248, 248, 248), 30)
    cv2.rectangle(img, (2480, 900), (3120, floor), (110, 75, 50), -1)  # door
    for y in range(floor + 60, HEIGHT, 110):
        cv2.line(img, (0, y), (WIDTH, y), (112, 80, 55), 8)
    noise = rng.normal(0.0, 6.0, (HEIGHT, WIDTH, 3)).astype(np.int16)
    noisy = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    Image.fromarray(noisy).save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


class TintBackend:
    """Stands in for the diffusion loop: tints the mask (negligible, and subtracted)."""

    info = BackendInfo(
        model="bench/tint",
        model_revision="-",
        controlnet=None,
        controlnet_revision=None,
        family="bench",
        scheduler="-",
        device="cpu",
        dtype="uint8",
        work_long_side=WORK_LONG_SIDE,
    )

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
        out = image.copy()
        out[mask > 0] //= 2
        return out


def vstage_overhead(data: bytes, repeats: int) -> tuple[float, dict[str, float]]:
    engine = StagingEngine(Settings(drift_retries=0), backend=TintBackend())
    params = StageParams("living_room", "modern", seed=1)
    engine.stage(data, params)  # warm-up (imports, OpenCV thread pool)
    runs: list[tuple[float, dict[str, float]]] = []
    for _ in range(repeats):
        timings = engine.stage(data, params).params["timings"]
        runs.append((timings["total"] - timings["diffusion"], timings))
    return min(runs, key=lambda run: run[0])


def naive_overhead(data: bytes) -> float:
    """The same steps, Pillow only, written the straightforward way."""
    started = time.perf_counter()
    image: Image.Image = Image.open(io.BytesIO(data))
    image = ImageOps.exif_transpose(image) or image
    image = image.convert("RGB")
    image.info.clear()
    width, height = image.size
    scale = WORK_LONG_SIDE / max(width, height)
    work_size = (round(width * scale / 8) * 8, round(height * scale / 8) * 8)
    work = image.resize(work_size, Image.Resampling.LANCZOS)
    edges = work.convert("L").filter(ImageFilter.FIND_EDGES)  # structure map
    del edges
    mask = Image.new("L", work_size, 0)  # floor + wall band, minus a window box
    ImageDraw.Draw(mask).rectangle((0, int(0.38 * work_size[1]), *work_size), fill=255)
    ImageDraw.Draw(mask).rectangle((80, 150, 280, 350), fill=0)
    diffusion_started = time.perf_counter()
    generated = Image.fromarray(np.asarray(work) // 2)  # stand-in, not timed
    diffusion = time.perf_counter() - diffusion_started
    full_mask = mask.resize((width, height), Image.Resampling.NEAREST)
    full_mask = full_mask.filter(ImageFilter.GaussianBlur(radius=0.012 * max(width, height) / 2))
    full_generated = generated.resize((width, height), Image.Resampling.LANCZOS)
    result = Image.composite(full_generated, image, full_mask)
    out, mask_out = io.BytesIO(), io.BytesIO()
    result.save(out, "JPEG", quality=95, subsampling=0)
    full_mask.save(mask_out, "PNG")
    return time.perf_counter() - started - diffusion


def gpu_seconds_per_image(repeats: int) -> tuple[float | None, float | None, str]:
    """(vstage s/image, plain diffusers s/image, note) at 1024 px, or Nones with why."""
    try:
        import torch
    except ImportError:
        return None, None, "torch not installed"
    if not torch.cuda.is_available():
        return None, None, "no CUDA device"
    from vstage.staging.diffusers_backend import DiffusersBackend, resolve_model

    settings = Settings(drift_retries=0)
    try:
        backend = DiffusersBackend(settings)
    except VstageError as exc:
        return None, None, f"configured model unavailable: {exc.message}"
    engine = StagingEngine(settings.model_copy(update={"work_size": 1024}), backend=backend)
    data = photo_12mp(1)
    params = StageParams("living_room", "modern", seed=1)
    engine.stage(data, params)
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        started = time.perf_counter()
        engine.stage(data, params)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    ours = statistics.median(times)

    pipe = backend.pipe
    model = resolve_model(settings.model, required_file="model_index.json")
    cls = type(pipe)
    plain = cls.from_pretrained(model.path, controlnet=pipe.controlnet, torch_dtype=torch.float16)
    plain.to("cuda")
    plain.set_progress_bar_config(disable=True)
    work = Image.fromarray(np.full((768, 1024, 3), 180, np.uint8))
    mask = Image.new("L", (1024, 768), 0)
    ImageDraw.Draw(mask).rectangle((0, 300, 1024, 768), fill=255)
    baseline = []
    for index in range(repeats + 1):
        torch.cuda.synchronize()
        started = time.perf_counter()
        plain(prompt="a furnished living room", image=work, mask_image=mask, control_image=work)
        torch.cuda.synchronize()
        if index:
            baseline.append(time.perf_counter() - started)
    return ours, statistics.median(baseline), "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one timed run of each")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 9

    data = photo_12mp()
    print(f"input: {WIDTH}x{HEIGHT} JPEG, {len(data) / 2**20:.1f} MiB", file=sys.stderr)
    overhead, timings = vstage_overhead(data, repeats)
    stages = {k: v for k, v in timings.items() if k not in ("total", "diffusion", "load")}
    print(f"vstage stages (best of {repeats}): {json.dumps(stages)}", file=sys.stderr)
    naive_overhead(data)  # warm-up
    naive = min(naive_overhead(data) for _ in range(repeats))
    print(f"vstage {overhead:.3f} s vs naive Pillow {naive:.3f} s", file=sys.stderr)

    gpu, gpu_baseline, note = gpu_seconds_per_image(max(1, repeats // 2))
    print(f"gpu: {note}", file=sys.stderr)
    device = "cpu"
    if gpu is not None:
        import torch

        device = f"cuda ({torch.cuda.get_device_name(0)})"
    result: dict[str, Any] = {
        "bench": "engine",
        "device": device if gpu is not None else f"cpu ({platform.machine()})",
        "overhead_s_12mp": round(overhead, 3),
        "naive_overhead_s_12mp": round(naive, 3),
        "overhead_ratio": round(overhead / naive, 3),
        "gpu_s_per_image": None if gpu is None else round(gpu, 3),
        "gpu_baseline_s_per_image": None if gpu_baseline is None else round(gpu_baseline, 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
