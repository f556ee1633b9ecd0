"""The real backend: diffusers ControlNet inpainting, SD 1.5 or SDXL family.

Model references are Hugging Face ids or local folders (``VSTAGE_MODEL``). We resolve them
ourselves before diffusers sees them: a local folder is checked to exist and to be a
pipeline; a hub id is looked up in the HF cache first, downloaded only when downloads are
allowed and the Hub answers within seconds. Anything else is a :class:`ModelNotFound`
naming the model and the command that fetches it — never a long network hang.

The family is read from ``model_index.json``; the ControlNet comes from the model folder's
``controlnet/`` subfolder when there is one (as ``vstage models make-tiny`` writes), else
from ``VSTAGE_CONTROLNET_MODEL``. On CUDA the pipeline runs in fp16 with memory options
chosen from the free VRAM; on CPU in fp32. Every result records the model ids and their
revisions (commit hashes from the HF cache, content hashes for local folders).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from vstage.config import Settings
from vstage.staging.backend import (
    WORK_LONG_SIDE_BY_FAMILY,
    BackendInfo,
    MaskArray,
    ModelNotFound,
    ProgressFn,
    RGBArray,
    load_module,
    offline,
)
from vstage.staging.structure import control_kind_for

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_PIPELINE_PATTERNS = ["model_index.json", "*/*.json", "*/*.txt", "*/*.safetensors", "*/*.model"]
_IGNORE_PATTERNS = ["*.ckpt", "*.bin", "*.onnx", "*.msgpack", "*.pb", "*non_ema*", "*.fp16.*"]
_CONTROLNET_PATTERNS = ["config.json", "diffusion_pytorch_model.safetensors"]
_MARKERS = ("model_index.json", "config.json")
_PROBE_TIMEOUT_S = 3.0

#: Native long side per family; the engine works at this resolution unless configured.
WORK_LONG_SIDE = WORK_LONG_SIDE_BY_FAMILY
#: Rough fp16 working set (GiB) per family, used to pick memory options.
_VRAM_NEEDED_GIB = {"sd15": 4.0, "sdxl": 10.0}


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference turned into a local folder we can load without the network."""

    ref: str
    path: Path
    revision: str
    source: str  # "local" | "hf-cache" | "downloaded"


def _how_to_get(ref: str) -> str:
    return (
        f"fetch it with `vstage models pull {ref}` on a machine with network access, "
        "or point VSTAGE_MODEL at a local diffusers folder "
        "(`vstage models make-tiny DIR` writes a tiny one for smoke tests)"
    )


def looks_like_path(ref: str) -> bool:
    """True for references that can only be paths (not hub ids)."""
    return (
        ref.startswith(("/", ".", "~"))
        or os.sep in ref.strip("/").replace("/", "", 1)
        or (os.altsep is not None and os.altsep in ref)
        or not _HUB_ID.match(ref)
    )


def content_revision(folder: Path) -> str:
    """A short content hash of a local model folder, as its revision.

    Configs are hashed whole; weight files by name, size and their first and last MiB —
    enough to tell two checkpoints apart without reading gigabytes.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix in (".json", ".txt"):
            digest.update(rel.encode() + b"\0" + path.read_bytes())
        elif path.suffix in (".safetensors", ".bin", ".ckpt", ".model"):
            size = path.stat().st_size
            digest.update(f"{rel}\0{size}\0".encode())
            with path.open("rb") as fh:
                digest.update(fh.read(1 << 20))
                if size > 2 << 20:
                    fh.seek(-(1 << 20), os.SEEK_END)
                    digest.update(fh.read(1 << 20))
    return "sha256:" + digest.hexdigest()[:16]


def _hub_reachable(timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Can we open a TCP connection to the Hub within ``timeout`` s (DNS included)?"""
    from huggingface_hub import constants

    parsed = urlparse(constants.ENDPOINT)
    host, port = (
        parsed.hostname or "huggingface.co",
        parsed.port or (443 if parsed.scheme == "https" else 80),
    )
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _cached_snapshot(ref: str, allow_patterns: list[str] | None) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        path = snapshot_download(
            ref,
            local_files_only=True,
            allow_patterns=allow_patterns,
            ignore_patterns=_IGNORE_PATTERNS,
        )
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None
    return Path(str(path))


def resolve_model(
    ref: str, *, required_file: str, kind: str = "model", download: bool = True
) -> ResolvedModel:
    """Turn ``ref`` (local folder or hub id) into a loadable local folder, or raise.

    ``required_file`` is ``model_index.json`` for pipelines and ``config.json`` for
    ControlNets. Downloads happen only when ``download`` is true, we are not offline and
    the Hub answers a connection within a few seconds.
    """
    local = Path(ref).expanduser()
    if local.is_dir():
        if not (local / required_file).is_file():
            raise ModelNotFound(
                f"{kind} folder {ref} has no {required_file}: it is not a diffusers {kind} folder",
                model=ref,
            )
        return ResolvedModel(ref, local.resolve(), content_revision(local), "local")
    if looks_like_path(ref):
        raise ModelNotFound(f"{kind} folder {ref} does not exist; {_how_to_get(ref)}", model=ref)

    patterns = _PIPELINE_PATTERNS if required_file == "model_index.json" else _CONTROLNET_PATTERNS
    cached = _cached_snapshot(ref, patterns)
    if cached is not None and (cached / required_file).is_file():
        return ResolvedModel(ref, cached, cached.name, "hf-cache")
    if not download or offline():
        raise ModelNotFound(
            f"{kind} {ref} is not in the local Hugging Face cache and downloads are off "
            f"(HF_HUB_OFFLINE); {_how_to_get(ref)}",
            model=ref,
        )
    if not _hub_reachable():
        raise ModelNotFound(
            f"{kind} {ref} is not in the local Hugging Face cache and the Hub is unreachable; "
            f"{_how_to_get(ref)}",
            model=ref,
        )
    path = download_model(ref, patterns)
    if not (path / required_file).is_file():
        raise ModelNotFound(
            f"{kind} {ref} has no {required_file}: not a diffusers {kind}", model=ref
        )
    return ResolvedModel(ref, path, path.name, "downloaded")


def download_model(ref: str, allow_patterns: list[str] | None = None) -> Path:
    """snapshot_download with the file patterns a pipeline needs; errors become ModelNotFound."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            ref,
            allow_patterns=allow_patterns or _PIPELINE_PATTERNS,
            ignore_patterns=_IGNORE_PATTERNS,
        )
    except Exception as exc:  # the hub client raises many types; all mean "not available"
        raise ModelNotFound(f"could not download {ref}: {exc}", model=ref) from None
    return Path(str(path))


def pipeline_family(model_dir: Path) -> str:
    """``sdxl`` or ``sd15`` from the pipeline class named in ``model_index.json``."""
    index = json.loads((model_dir / "model_index.json").read_text())
    class_name = str(index.get("_class_name", ""))
    return "sdxl" if "XL" in class_name else "sd15"


def pull(ref: str) -> ResolvedModel:
    """Make ``ref`` available locally (``vstage models pull``): cache hit or download.

    Works for pipelines, ControlNets and transformers models alike (everything but
    duplicate weight formats is fetched).
    """
    local = Path(ref).expanduser()
    if local.is_dir():
        return ResolvedModel(ref, local.resolve(), content_revision(local), "local")
    if looks_like_path(ref):
        raise ModelNotFound(
            f"{ref} is neither a local model folder nor a Hugging Face id", model=ref
        )
    cached = _cached_snapshot(ref, None)
    if cached is not None and any((cached / name).is_file() for name in _MARKERS):
        return ResolvedModel(ref, cached, cached.name, "hf-cache")
    if offline():
        raise ModelNotFound(
            f"cannot download {ref}: downloads are off (HF_HUB_OFFLINE=1); run "
            "`vstage models pull` on a machine with network access and copy its HF cache",
            model=ref,
        )
    if not _hub_reachable():
        raise ModelNotFound(
            f"cannot download {ref}: the Hugging Face Hub is unreachable", model=ref
        )
    path = download_model(ref, ["*.json", "*.txt", "*.safetensors", "*.model"])
    return ResolvedModel(ref, path, path.name, "downloaded")


def _quiet() -> None:
    for name in ("diffusers.utils.logging", "transformers.utils.logging"):
        logging_module = load_module(name)
        logging_module.set_verbosity_error()
        logging_module.disable_progress_bar()
    load_module("huggingface_hub.utils").disable_progress_bars()


def _scheduler_class(name: str) -> tuple[Any, dict[str, Any]] | None:
    diffusers = load_module("diffusers")
    table: dict[str, tuple[Any, dict[str, Any]]] = {
        "unipc": (diffusers.UniPCMultistepScheduler, {}),
        "dpmpp_2m": (diffusers.DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
        "euler_a": (diffusers.EulerAncestralDiscreteScheduler, {}),
        "ddim": (diffusers.DDIMScheduler, {}),
    }
    return table.get(name)


def pick_device(requested: str) -> tuple[str, Any]:
    """(device, dtype): CUDA fp16 when available (or asked), else CPU fp32."""
    torch = load_module("torch")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelNotFound("VSTAGE_DEVICE asks for CUDA but no CUDA device is available")
        return requested, torch.float16
    return requested, torch.float32


class DiffusersBackend:
    """ControlNet inpainting with a diffusers pipeline, loaded once and reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        # Resolve first: a missing model fails in milliseconds, before torch is imported.
        self.model = resolve_model(settings.model, required_file="model_index.json")
        self.family = pipeline_family(self.model.path)
        self.controlnet = self._resolve_controlnet()
        _quiet()
        if settings.torch_threads:
            load_module("torch").set_num_threads(settings.torch_threads)
        self.device, self.dtype = pick_device(settings.device)
        self.pipe, memory_options = self._load()
        scheduler = (
            settings.scheduler
            if settings.scheduler != "default"
            else type(self.pipe.scheduler).__name__
        )
        self._info = BackendInfo(
            model=settings.model,
            model_revision=self.model.revision,
            controlnet=self.controlnet.ref,
            controlnet_revision=self.controlnet.revision,
            family=self.family,
            scheduler=scheduler,
            device=self.device,
            dtype=str(self.dtype).removeprefix("torch."),
            control_kind=control_kind_for(self.controlnet.ref),
            work_long_side=settings.work_size or WORK_LONG_SIDE[self.family],
            memory_options=memory_options,
        )

    @property
    def info(self) -> BackendInfo:
        return self._info

    def _resolve_controlnet(self) -> ResolvedModel:
        bundled = self.model.path / "controlnet"
        if (bundled / "config.json").is_file():
            return ResolvedModel(
                f"{self.settings.model}/controlnet", bundled, self.model.revision, self.model.source
            )
        if not self.settings.controlnet_model:
            raise ModelNotFound(
                f"model {self.settings.model} has no controlnet/ folder and "
                "VSTAGE_CONTROLNET_MODEL is not set",
                model=self.settings.model,
            )
        return resolve_model(
            self.settings.controlnet_model, required_file="config.json", kind="ControlNet"
        )

    def _load(self) -> tuple[Any, tuple[str, ...]]:
        torch = load_module("torch")
        diffusers = load_module("diffusers")
        try:
            controlnet = diffusers.ControlNetModel.from_pretrained(
                self.controlnet.path, dtype=self.dtype, local_files_only=True
            )
            extra: dict[str, Any] = {}
            if self.family == "sdxl":
                cls: Any = diffusers.StableDiffusionXLControlNetInpaintPipeline
            else:
                cls = diffusers.StableDiffusionControlNetInpaintPipeline
                extra = {
                    "safety_checker": None,
                    "feature_extractor": None,
                    "requires_safety_checker": False,
                }
            pipe = cls.from_pretrained(
                self.model.path,
                controlnet=controlnet,
                dtype=self.dtype,
                local_files_only=True,
                **extra,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelNotFound(
                f"model {self.settings.model} could not be loaded from {self.model.path}: {exc}",
                model=self.settings.model,
            ) from None
        pipe.set_progress_bar_config(disable=True)
        chosen = _scheduler_class(self.settings.scheduler)
        if chosen is not None:
            scheduler_cls, options = chosen
            pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config, **options)
        return pipe, self._place(pipe, torch)

    def _place(self, pipe: Any, torch: Any) -> tuple[str, ...]:
        """Move to the device with memory options fitted to the free VRAM."""
        if not self.device.startswith("cuda"):
            pipe.to(self.device)
            return ()
        free_bytes, _ = torch.cuda.mem_get_info(torch.device(self.device))
        free_gib = free_bytes / 2**30
        need = _VRAM_NEEDED_GIB[self.family]
        options: list[str] = []
        if free_gib >= 1.5 * need:
            pipe.to(self.device)
            pipe.unet.to(memory_format=torch.channels_last)
            options.append("channels_last")
        elif free_gib >= need:
            pipe.to(self.device)
            pipe.enable_attention_slicing()
            pipe.enable_vae_tiling()
            options += ["attention_slicing", "vae_tiling"]
        else:
            pipe.enable_model_cpu_offload(device=self.device)
            pipe.enable_attention_slicing()
            pipe.enable_vae_tiling()
            options += ["model_cpu_offload", "attention_slicing", "vae_tiling"]
        return tuple(options)

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
        torch = load_module("torch")

        height, width = image.shape[:2]
        callback: Callable[..., dict[str, Any]] | None = None
        if progress is not None:
            report = progress

            def callback(
                pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]
            ) -> dict[str, Any]:
                total = int(getattr(pipe, "num_timesteps", 0) or steps)
                report(min(step + 1, total), total)
                return kwargs

        # A CPU generator gives the same initial noise on every device.
        generator = torch.Generator(device="cpu").manual_seed(seed)
        with self._lock, torch.inference_mode():
            result = self.pipe(
                prompt=prompt,
                negative_prompt=negative_prompt,
                image=Image.fromarray(image),
                mask_image=Image.fromarray(mask),
                control_image=Image.fromarray(control),
                height=height,
                width=width,
                num_inference_steps=steps,
                guidance_scale=guidance,
                strength=strength,
                controlnet_conditioning_scale=self.settings.controlnet_scale,
                generator=generator,
                output_type="np",
                callback_on_step_end=callback,
            )
        pixels = np.asarray(result.images[0], dtype=np.float32)
        out: RGBArray = np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return out
