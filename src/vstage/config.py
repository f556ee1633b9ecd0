"""The one settings object.

Every knob is an environment variable with the ``VSTAGE_`` prefix (DESIGN §3). The
defaults describe *embedded mode*: a SQLite file and local storage under ``./var/``,
dev login, no Stripe, so ``vstage serve`` works on a fresh machine with no setup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vstage.errors import ConfigError

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"


class Settings(BaseSettings):
    """Runtime configuration, read once from the environment."""

    model_config = SettingsConfigDict(env_prefix="VSTAGE_", extra="ignore", frozen=True)

    # Persistence
    database_url: str = "sqlite+aiosqlite:///./var/vstage.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    storage_url: str = "file://./var/storage"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_path_style: bool = True
    s3_presign_seconds: int = Field(default=300, ge=10, le=86_400)

    # Identity
    auth_mode: Literal["dev", "auth0"] = "dev"
    allow_dev_auth: bool = False
    auth0_domain: str | None = None
    auth0_issuer: str | None = None
    auth0_audience: str | None = None
    auth0_client_id: str | None = None
    auth0_client_secret: str | None = None
    jwks_cooldown_seconds: float = Field(default=60.0, ge=0)
    secret_key: str = DEV_SECRET_KEY
    public_url: str = "http://127.0.0.1:8000"

    # Billing
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    billing_grace_days: int = Field(default=3, ge=0, le=60)

    # Staging engine
    model: str = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    controlnet_model: str | None = "lllyasviel/control_v11p_sd15_mlsd"
    device: str = "auto"
    max_pixels: int = Field(default=40_000_000, ge=1)
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    # Diffusion parameters (vstage.staging); per-job values override steps/guidance/strength.
    scheduler: Literal["unipc", "dpmpp_2m", "euler_a", "ddim", "default"] = "unipc"
    steps: int = Field(default=20, ge=1, le=150)
    guidance: float = Field(default=7.0, ge=0.0, le=30.0)
    strength: float = Field(default=1.0, gt=0.0, le=1.0)
    controlnet_scale: float = Field(default=0.7, ge=0.0, le=2.0)
    work_size: int | None = Field(default=None, ge=64, le=2048)  # long side; None = by family
    drift_threshold: float = Field(default=0.45, ge=0.0, le=1.0)
    drift_retries: int = Field(default=2, ge=0, le=8)
    depth_model: str | None = None
    segmentation_model: str | None = None
    jpeg_quality: int = Field(default=95, ge=50, le=100)
    torch_threads: int | None = Field(default=None, ge=1)

    # API limits
    upload_rate_per_minute: int = Field(default=60, ge=1)
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1)

    # Queue
    embedded_worker: bool = True
    job_max_attempts: int = Field(default=3, ge=1, le=100)
    job_heartbeat_seconds: float = Field(default=5.0, gt=0)
    job_heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)
    job_retry_base_seconds: float = Field(default=5.0, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    job_retry_max_seconds: float = Field(default=600.0, ge=0)
    job_progress_interval_seconds: float = Field(default=0.5, ge=0)
    job_rescue_interval_seconds: float = Field(default=10.0, ge=0)
    worker_concurrency: int = Field(default=1, ge=1, le=256)
    worker_batch_size: int = Field(default=16, ge=1, le=1000)
    worker_gpu_slots: int = Field(default=1, ge=1, le=64)
    worker_shutdown_grace_seconds: float = Field(default=25.0, ge=0)

    # Integrations
    webhook_allow_private: bool = False
    webhook_retry_base_seconds: float = Field(default=30.0, ge=0)

    # Observability
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value

    @field_validator("storage_url")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            raise ValueError("must be file://DIR or s3://bucket[/prefix]")
        if value.startswith("s3://") and not value[5:].split("/", 1)[0]:
            raise ValueError("s3:// URL needs a bucket name")
        return value

    @model_validator(mode="after")
    def _safe_combination(self) -> Settings:
        if self.auth_mode == "dev" and not (self.is_sqlite or self.allow_dev_auth):
            raise ValueError(
                "VSTAGE_AUTH_MODE=dev is refused with PostgreSQL unless VSTAGE_ALLOW_DEV_AUTH=1"
            )
        if self.auth_mode == "auth0" and not (self.auth0_domain or self.auth0_issuer):
            raise ValueError(
                "VSTAGE_AUTH_MODE=auth0 needs VSTAGE_AUTH0_DOMAIN or VSTAGE_AUTH0_ISSUER"
            )
        if self.auth_mode == "auth0" and not self.auth0_audience:
            raise ValueError("VSTAGE_AUTH_MODE=auth0 needs VSTAGE_AUTH0_AUDIENCE")
        if self.secret_key == DEV_SECRET_KEY and not self.is_sqlite and not self.allow_dev_auth:
            raise ValueError("VSTAGE_SECRET_KEY must be set outside embedded mode")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded(self) -> bool:
        """Embedded mode: one process runs API and worker against SQLite."""
        return self.is_sqlite

    @property
    def auth0_issuer_url(self) -> str:
        issuer = self.auth0_issuer or f"https://{self.auth0_domain}/"
        return issuer if issuer.endswith("/") else issuer + "/"

    @property
    def stripe_enabled(self) -> bool:
        return bool(self.stripe_secret_key)


def load_settings() -> Settings:
    """Read the environment; raise :class:`ConfigError` with one readable line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first.get("loc", ())]
        name = "VSTAGE_" + loc[0].upper() if loc else "configuration"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"invalid configuration: {name}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests build their own :class:`Settings` instead."""
    return load_settings()
