"""Object storage: pick the backend from ``VSTAGE_STORAGE_URL``; build keys.

``file://DIR`` (relative to the working directory, e.g. ``file://./var/storage``, or
absolute, ``file:///srv/vstage``) gives :class:`LocalStorage`; ``s3://bucket/prefix``
gives :class:`S3Storage` with ``VSTAGE_S3_*`` settings and the standard AWS
credential chain. boto3 is imported only when S3 is used (it costs ~0.1 s at start-up,
which embedded mode and the CLI need not pay).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vstage.config import Settings
from vstage.errors import ConfigError
from vstage.storage.base import ObjectNotFound, Storage, StorageError
from vstage.storage.disposition import content_disposition
from vstage.storage.keys import (
    OBJECT_NAMES,
    InvalidKey,
    image_prefix,
    project_prefix,
    storage_key,
    user_prefix,
)
from vstage.storage.local import LocalStorage

if TYPE_CHECKING:
    from vstage.storage.s3 import S3Storage

__all__ = [
    "OBJECT_NAMES",
    "InvalidKey",
    "LocalStorage",
    "ObjectNotFound",
    "S3Storage",
    "Storage",
    "StorageError",
    "content_disposition",
    "image_prefix",
    "make_storage",
    "project_prefix",
    "storage_key",
    "user_prefix",
]


def __getattr__(name: str) -> Any:
    if name == "S3Storage":
        from vstage.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_storage(settings: Settings) -> Storage:
    """The backend ``settings.storage_url`` names; :class:`ConfigError` if unusable."""
    url = settings.storage_url
    if url.startswith("file://"):
        directory = url.removeprefix("file://")
        if not directory:
            raise ConfigError("invalid configuration: VSTAGE_STORAGE_URL: file:// needs a path")
        return LocalStorage(Path(directory))
    if url.startswith("s3://"):
        from vstage.storage.s3 import S3Storage

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        try:
            return S3Storage(
                bucket,
                prefix,
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                path_style=settings.s3_path_style,
                presign_seconds=settings.s3_presign_seconds,
            )
        except InvalidKey:
            raise ConfigError(
                f"invalid configuration: VSTAGE_STORAGE_URL: bad key prefix {prefix!r}"
            ) from None
    raise ConfigError("invalid configuration: VSTAGE_STORAGE_URL: must be file:// or s3://")
