"""Engine metrics, recorded by the worker for every staged image.

Per-stage timings show where a render's time goes (decode vs diffusion vs encode);
the drift-score histogram shows how close renders come to the retry threshold, which
is how an operator tunes ``VSTAGE_DRIFT_THRESHOLD`` for a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Gauge, Histogram

ENGINE_STAGE_SECONDS = Histogram(
    "vstage_engine_stage_seconds",
    "Time spent in each staging-engine stage",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ENGINE_DRIFT_SCORE = Histogram(
    "vstage_engine_drift_score",
    "Structural drift of accepted renders (0 = architecture untouched)",
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
)
ENGINE_GPU_MEMORY_BYTES = Gauge(
    "vstage_engine_gpu_memory_bytes", "Peak CUDA memory allocated by the last render"
)


def observe_render(params: Mapping[str, Any]) -> None:
    timings = params.get("timings")
    if isinstance(timings, Mapping):
        for stage, seconds in timings.items():
            if isinstance(seconds, int | float):
                ENGINE_STAGE_SECONDS.labels(str(stage)).observe(float(seconds))
    score = params.get("drift_score")
    if isinstance(score, int | float):
        ENGINE_DRIFT_SCORE.observe(float(score))
    _observe_gpu_memory()


def _observe_gpu_memory() -> None:
    try:
        import torch
    except ImportError:  # the web-only install has no torch
        return
    if torch.cuda.is_available():
        ENGINE_GPU_MEMORY_BYTES.set(torch.cuda.max_memory_allocated())
        torch.cuda.reset_peak_memory_stats()
