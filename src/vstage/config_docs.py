"""Render the configuration reference of ``docs/operations.md`` from :class:`Settings`.

The table is generated, never hand-written, so the operator docs list exactly the
variables the program reads. A field's description comes from its
``Field(description=...)`` when it has one, else from :data:`DESCRIPTIONS` below.

Usage::

    python -m vstage.config_docs                         # print the table
    python -m vstage.config_docs --write docs/operations.md   # refresh the doc in place
    python -m vstage.config_docs --check docs/operations.md   # exit 1 when it is stale

The table sits between :data:`START` and :data:`END` in the document; everything
outside the markers is prose and left alone.
"""

from __future__ import annotations

import argparse
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from vstage.config import Settings

START = "<!-- config:start -->"
END = "<!-- config:end -->"
REGENERATE = ".venv/bin/python -m vstage.config_docs --write docs/operations.md"
UNDESCRIBED = "(undocumented)"

#: Descriptions for fields that carry no ``Field(description=...)`` of their own.
DESCRIPTIONS: dict[str, str] = {
    # Persistence
    "database_url": (
        "SQLAlchemy async URL. `postgresql+asyncpg://user:pass@host/db` in production; "
        "the SQLite default means embedded mode."
    ),
    "database_pool_size": (
        "Connections each process keeps open (the pool may grow by as many again)."
    ),
    "storage_url": "Where images live: `file://DIR` or `s3://bucket[/prefix]`.",
    "s3_endpoint_url": (
        "S3-compatible endpoint (SeaweedFS, MinIO, R2, …); unset means AWS S3 itself."
    ),
    "s3_region": "S3 region used to sign requests.",
    "s3_path_style": (
        "Path-style S3 addressing (`endpoint/bucket/key`); most self-hosted stores need it."
    ),
    "s3_presign_seconds": "Lifetime of presigned download URLs for originals and results.",
    # Identity
    "auth_mode": (
        "`auth0` in production. `dev` (one-click login) is refused with PostgreSQL "
        "unless `VSTAGE_ALLOW_DEV_AUTH=1`."
    ),
    "allow_dev_auth": "Allow `dev` login with PostgreSQL (tests and demos only).",
    "auth0_domain": "Auth0 tenant domain, e.g. `example.eu.auth0.com`.",
    "auth0_issuer": (
        "Token issuer URL; defaults to `https://{VSTAGE_AUTH0_DOMAIN}/` "
        "(set it for a custom domain)."
    ),
    "auth0_audience": "Identifier of the Auth0 API; access tokens must carry it in `aud`.",
    "auth0_client_id": "Client id of the Auth0 web application (universal login).",
    "auth0_client_secret": "Client secret of the Auth0 web application. Secret.",
    "jwks_cooldown_seconds": (
        "Least time between two JWKS fetches (an unknown `kid` flood costs one fetch per cooldown)."
    ),
    "secret_key": (
        "Signs session and CSRF cookies. Required outside embedded mode; same value on "
        "every API replica. Secret."
    ),
    "public_url": (
        "The URL users reach the service at; builds the Auth0 callback/logout URLs "
        "and upgrade links."
    ),
    # Billing
    "stripe_secret_key": "Stripe secret API key; unset disables billing. Secret.",
    "stripe_webhook_secret": (
        "Signing secret (`whsec_…`) of the `/v1/billing/webhook` endpoint. Secret."
    ),
    "stripe_api_base": "Override the Stripe API base URL (tests point it at a local fake).",
    "billing_grace_days": "Days a `past_due` subscription keeps its paid plan.",
    # Staging engine
    "model": "Inpainting model: Hugging Face id or local directory (SD 1.5 or SDXL family).",
    "controlnet_model": (
        "ControlNet: Hugging Face id or local directory; ignored when the model "
        "directory has a `controlnet/` folder."
    ),
    "device": "`auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`.",
    "max_pixels": "Most pixels (width times height) an upload may have; larger ones are refused.",
    "max_upload_bytes": "Largest accepted upload file, in bytes.",
    "scheduler": "Diffusion sampler; `default` keeps the model's own scheduler.",
    "steps": "Denoising steps per image (a job's own value wins).",
    "guidance": "Classifier-free guidance scale (a job's own value wins).",
    "strength": "Inpainting strength inside the editable mask (a job's own value wins).",
    "controlnet_scale": "How strongly the structure map (ControlNet) conditions the result.",
    "work_size": (
        "Long side in pixels the model works at; unset = by family (SD 1.5: 768, SDXL: 1024)."
    ),
    "drift_threshold": ("Structural drift score above which a render is retried with a new seed."),
    "drift_retries": "Extra renders tried when the drift score is over the threshold.",
    "depth_model": "Optional depth model (Hugging Face id or directory) for the structure map.",
    "segmentation_model": (
        "Optional segmentation model (Hugging Face id or directory) to refine the editable mask."
    ),
    "jpeg_quality": "Quality of JPEG outputs.",
    "torch_threads": "CPU threads torch may use; unset = torch's default.",
    # API limits
    "upload_rate_per_minute": "Uploads one user may make per minute.",
    "max_json_body_bytes": "Largest JSON request body, in bytes.",
    # Queue
    "embedded_worker": "In embedded mode (SQLite), run a worker inside `vstage serve`.",
    "job_max_attempts": "Attempts before a job is `failed` (image `error`, usage refunded).",
    "job_heartbeat_seconds": "How often a running job's worker writes its heartbeat.",
    "job_heartbeat_timeout_seconds": (
        "A `processing` job whose heartbeat is older than this is requeued by the rescuer."
    ),
    "job_retry_base_seconds": (
        "Nominal first retry delay; doubles with every attempt (randomly shortened by up "
        "to half so failed jobs do not return in lockstep)."
    ),
    "worker_poll_seconds": "Longest a worker sleeps between claims when no NOTIFY wakes it.",
    "job_retry_max_seconds": "Upper bound of the retry delay.",
    "job_progress_interval_seconds": "Least time between two progress updates of a job.",
    "job_rescue_interval_seconds": (
        "How often each worker runs the rescuer for stale jobs; 0 disables it "
        "(then run `vstage rescue` from cron)."
    ),
    "worker_concurrency": "Jobs one worker process runs at once (`--concurrency` wins).",
    "worker_batch_size": "Most jobs claimed by one query (`--batch-size` wins).",
    "worker_gpu_slots": "Jobs of one worker allowed on the GPU at the same time.",
    "worker_shutdown_grace_seconds": (
        "On SIGTERM, seconds running jobs get to finish before they are released to the "
        "queue (`--grace` wins). Keep the orchestrator's kill timeout above it."
    ),
    # Integrations
    "webhook_allow_private": (
        "Allow outbound webhooks to http:// and private addresses (tests only)."
    ),
    "webhook_retry_base_seconds": "First retry delay of an outbound webhook delivery.",
    # Observability
    "log_format": "`json` for log pipelines (one object per line with request/job ids).",
    "log_level": "Root log level (`DEBUG`, `INFO`, `WARNING`, …).",
}

_BOUNDS: tuple[tuple[type[Any], str, str], ...] = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)


def env_name(name: str, info: FieldInfo) -> str:
    """The environment variable pydantic-settings reads for field ``name``."""
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    if alias:
        return alias.upper()
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        inner = " \\| ".join(_type_name(arg) for arg in args)
        return f"{inner} (optional)" if len(args) < len(get_args(annotation)) else inner
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _bounds(info: FieldInfo) -> str:
    parts: list[str] = []
    for meta in info.metadata:
        for kind, attr, symbol in _BOUNDS:
            if isinstance(meta, kind):
                parts.append(f"{symbol} {getattr(meta, attr)}")
    return ", ".join(parts)


def type_cell(info: FieldInfo) -> str:
    name = _type_name(info.annotation)
    bounds = _bounds(info)
    return f"{name}, {bounds}" if bounds else name


def default_cell(info: FieldInfo) -> str:
    default = info.get_default(call_default_factory=True)
    if default is PydanticUndefined:
        return "required"
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Enum):
        default = default.value
    return f"`{default}`"


def description(name: str, info: FieldInfo) -> str:
    return info.description or DESCRIPTIONS.get(name, UNDESCRIBED)


def _cell(text: str) -> str:
    # Literal types already escape their own separators; escape any other bare pipe.
    out: list[str] = []
    for index, char in enumerate(text):
        if char == "|" and (index == 0 or text[index - 1] != "\\"):
            out.append("\\|")
        else:
            out.append(char)
    return "".join(out).replace("\n", " ")


def undescribed_fields() -> list[str]:
    """Fields with neither ``Field(description=...)`` nor an entry in :data:`DESCRIPTIONS`."""
    return [
        name
        for name, info in Settings.model_fields.items()
        if description(name, info) == UNDESCRIBED
    ]


def render_table() -> str:
    """The markdown table: one row per settings field, in declaration order."""
    lines = [
        "| variable | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        row = (
            f"`{env_name(name, info)}`",
            type_cell(info),
            default_cell(info),
            description(name, info),
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def render_block() -> str:
    """The table with its markers and a note that it is generated."""
    note = f"<!-- generated from vstage.config.Settings; regenerate with: {REGENERATE} -->"
    return f"{START}\n{note}\n\n{render_table()}{END}"


def update_document(text: str) -> str:
    """``text`` with whatever sits between the markers replaced by a fresh table."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"document has no {START} … {END} block")
    return text[:start] + render_block() + text[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vstage.config_docs",
        description="Render the configuration reference from vstage.config.Settings.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="DOC", help="refresh DOC in place")
    group.add_argument("--check", type=Path, metavar="DOC", help="exit 1 if DOC is stale")
    args = parser.parse_args(argv)
    if args.write is None and args.check is None:
        sys.stdout.write(render_table())
        return 0
    path: Path = args.write or args.check
    current = path.read_text(encoding="utf-8")
    fresh = update_document(current)
    if args.check is not None:
        if fresh != current:
            sys.stderr.write(f"{path} is out of date; run: {REGENERATE}\n")
            return 1
        return 0
    if fresh != current:
        path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
