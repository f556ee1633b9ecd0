"""``vstage stage``, ``vstage declutter``, ``vstage models …`` and ``vstage catalog``.

These commands work with no server and no database: they run the staging engine on
local files. Output names (DESIGN §6): ``<name>.staged.<ext>`` — PNG when the input is
PNG, else JPEG — and, for variation k ≥ 2, ``<name>.staged.<k>.<ext>``; ``--save-mask``
adds ``<name>.mask.png`` (white = edited, black = untouched). A bad input or a missing
model prints one line ``FILE: reason`` on stderr and the other inputs still run; the exit
status is 1 when any input failed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import typer

from vstage.config import Settings, load_settings
from vstage.errors import VstageError
from vstage.staging import catalog
from vstage.staging.backend import ModelNotFound

OutputFormatOption = Literal["jpeg", "png"]


def _settings(model: str | None = None) -> Settings:
    try:
        settings = load_settings()
    except VstageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if model:
        settings = settings.model_copy(update={"model": model})
    return settings


def _fail(path: Path | str, reason: str) -> None:
    typer.echo(f"{path}: {reason}", err=True)


def _run_files(
    inputs: list[Path],
    out_dir: Path,
    job: Callable[[bytes, int], list[tuple[str, bytes, dict[str, object]]]],
    mask_writer: Callable[[Path, bytes], None] | None,
) -> int:
    """Run ``job`` on each input; one stderr line per failure; return the failure count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    model_error: str | None = None
    for index, path in enumerate(inputs):
        if model_error is not None:  # the model will not appear between two files
            _fail(path, model_error)
            failures += 1
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            _fail(path, f"cannot read file ({exc.strerror or exc})")
            failures += 1
            continue
        try:
            outputs = job(data, index)
        except ModelNotFound as exc:
            model_error = exc.message
            _fail(path, exc.message)
            failures += 1
            continue
        except VstageError as exc:
            _fail(path, exc.message)
            failures += 1
            continue
        except Exception as exc:  # keep going with the other files, no traceback
            _fail(path, f"internal error: {type(exc).__name__}: {exc}")
            failures += 1
            continue
        for name, payload, params in outputs:
            if name.endswith(".mask.png"):
                if mask_writer is not None:
                    mask_writer(out_dir / name, payload)
                continue
            (out_dir / name).write_bytes(payload)
            timings = params.get("timings")
            seconds = timings.get("total", 0.0) if isinstance(timings, dict) else 0.0
            typer.echo(
                f"{path} -> {out_dir / name} (seed {params.get('seed')}, "
                f"drift {params.get('drift_score')}, {seconds:.1f} s)"
            )
    return failures


def _write_mask(target: Path, payload: bytes) -> None:
    target.write_bytes(payload)


def stage_command(
    inputs: Annotated[list[Path], typer.Argument(help="Photos to stage (JPEG, PNG, WebP, HEIC).")],
    room: Annotated[str, typer.Option("--room", help="Room type code (see `vstage catalog`).")],
    style: Annotated[str, typer.Option("--style", help="Style code (see `vstage catalog`).")],
    seed: Annotated[int | None, typer.Option(help="Base seed; random when omitted.")] = None,
    variations: Annotated[int, typer.Option(min=1, max=4, help="Variations per photo (1-4).")] = 1,
    mask: Annotated[
        Path | None, typer.Option(help="Mask PNG, white = editable; overrides detection.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model id or local folder (default VSTAGE_MODEL).")
    ] = None,
    save_mask: Annotated[
        bool, typer.Option("--save-mask", help="Also write <name>.mask.png.")
    ] = False,
    steps: Annotated[int | None, typer.Option(min=1, max=150, help="Diffusion steps.")] = None,
    output_format: Annotated[
        OutputFormatOption | None, typer.Option("--format", help="Force jpeg or png output.")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output directory.")] = Path("."),
) -> None:
    """Furnish empty rooms: writes <name>.staged.<ext> (and <name>.staged.<k>.<ext>)."""
    from vstage.staging.engine import StageParams, StagingEngine, variation_seeds

    settings = _settings(model)
    user_mask = _read_mask(mask)
    engine = StagingEngine(settings)
    base_seed = seed if seed is not None else secrets.randbelow(2**31)

    def job(data: bytes, index: int) -> list[tuple[str, bytes, dict[str, object]]]:
        stem = inputs[index].stem
        produced: list[tuple[str, bytes, dict[str, object]]] = []
        for k, variation_seed in enumerate(variation_seeds(base_seed, variations), start=1):
            params = StageParams(
                room_type=room,
                style=style,
                seed=variation_seed,
                steps=steps,
                output_format=output_format,
            )
            result = engine.stage(data, params, user_mask=user_mask)
            suffix = "" if k == 1 else f".{k}"
            produced.append(
                (f"{stem}.staged{suffix}.{result.extension}", result.image_bytes, result.params)
            )
            if k == 1:
                produced.append((f"{stem}.mask.png", result.mask_png, result.params))
        return produced

    failures = _run_files(inputs, output, job, _write_mask if save_mask else None)
    if failures:
        raise typer.Exit(1)


def declutter_command(
    inputs: Annotated[list[Path], typer.Argument(help="Furnished photos to empty.")],
    seed: Annotated[int | None, typer.Option(help="Seed; random when omitted.")] = None,
    mask: Annotated[Path | None, typer.Option(help="Mask PNG, white = remove.")] = None,
    model: Annotated[str | None, typer.Option(help="Model id or local folder.")] = None,
    save_mask: Annotated[
        bool, typer.Option("--save-mask", help="Also write <name>.mask.png.")
    ] = False,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output directory.")] = Path("."),
) -> None:
    """Remove furniture: writes <name>.empty.<ext>, ready to be staged again."""
    from vstage.staging.engine import StagingEngine

    settings = _settings(model)
    user_mask = _read_mask(mask)
    engine = StagingEngine(settings)
    chosen_seed = seed if seed is not None else secrets.randbelow(2**31)

    def job(data: bytes, index: int) -> list[tuple[str, bytes, dict[str, object]]]:
        result = engine.declutter(data, seed=chosen_seed, user_mask=user_mask)
        stem = inputs[index].stem
        return [
            (f"{stem}.empty.{result.extension}", result.image_bytes, result.params),
            (f"{stem}.mask.png", result.mask_png, result.params),
        ]

    failures = _run_files(inputs, output, job, _write_mask if save_mask else None)
    if failures:
        raise typer.Exit(1)


def _read_mask(mask: Path | None) -> bytes | None:
    if mask is None:
        return None
    try:
        return mask.read_bytes()
    except OSError as exc:
        _fail(mask, f"cannot read mask ({exc.strerror or exc})")
        raise typer.Exit(2) from None


def catalog_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
) -> None:
    """List room types and styles (codes to pass to --room and --style)."""
    data = catalog.catalog_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo("Room types:")
    for room in data["room_types"]:
        typer.echo(f"  {room['code']:<14} {room['label']}")
    typer.echo("Styles:")
    for style in data["styles"]:
        typer.echo(f"  {style['code']:<14} {style['label']}")


def models_list() -> None:
    """Show the configured models and whether they are available, then the HF cache."""
    from vstage.staging.diffusers_backend import resolve_model

    settings = _settings()
    configured = [("model", settings.model, "model_index.json")]
    if settings.controlnet_model:
        configured.append(("controlnet", settings.controlnet_model, "config.json"))
    for role, ref, required in configured:
        try:
            found = resolve_model(ref, required_file=required, download=False)
            where = f"{found.source}, revision {found.revision}, {found.path}"
        except ModelNotFound:
            where = f"missing (run `vstage models pull {ref}`)"
        typer.echo(f"{role:<11} {ref}  [{where}]")
    typer.echo("cached:")
    for line in _cached_models():
        typer.echo(f"  {line}")


def _cached_models() -> list[str]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir()
    except (CacheNotFound, OSError):
        return ["(the Hugging Face cache is empty)"]
    lines = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        revisions = ", ".join(sorted(rev.commit_hash[:12] for rev in repo.revisions))
        lines.append(f"{repo.repo_id}  {repo.size_on_disk_str}  {revisions}")
    return lines or ["(the Hugging Face cache is empty)"]


def models_pull(
    model_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="Hub id; default: the configured models.")
    ] = None,
) -> None:
    """Download a model (and, by default, the configured ControlNet) into the HF cache."""
    from vstage.staging.diffusers_backend import pull

    settings = _settings()
    refs = [model_id] if model_id else [settings.model, *filter(None, [settings.controlnet_model])]
    failed = False
    for ref in refs:
        try:
            found = pull(ref)
        except ModelNotFound as exc:
            _fail(ref, exc.message)
            failed = True
            continue
        typer.echo(f"{ref} -> {found.path} ({found.source}, revision {found.revision})")
    if failed:
        raise typer.Exit(1)


def models_make_tiny(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write.")],
    family: Annotated[str, typer.Option(help="sd15 or sdxl.")] = "sd15",
) -> None:
    """Write a tiny random pipeline (a few MB) usable with `vstage stage --model DIR`."""
    from vstage.staging.diffusers_backend import _quiet
    from vstage.staging.tiny import make_tiny_pipeline

    if family not in ("sd15", "sdxl"):
        _fail(directory, f"unknown family {family!r}: use sd15 or sdxl")
        raise typer.Exit(2)
    _quiet()
    path = make_tiny_pipeline(directory, "sdxl" if family == "sdxl" else "sd15")
    typer.echo(f"tiny {family} pipeline written to {path}")


def register(app: typer.Typer) -> None:
    """Add the staging commands to the root ``vstage`` CLI."""
    app.command("stage")(stage_command)
    app.command("declutter")(declutter_command)
    app.command("catalog")(catalog_command)
    models = typer.Typer(help="List, download or build diffusion models.", no_args_is_help=True)
    models.command("list")(models_list)
    models.command("pull")(models_pull)
    models.command("make-tiny")(models_make_tiny)
    app.add_typer(models, name="models")
