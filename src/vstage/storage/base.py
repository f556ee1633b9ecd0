"""The one storage interface: local directory or S3-compatible bucket.

Keys are ours (random UUID paths), never user file names. Every method is async so
the API never blocks its event loop on disk or network I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class StorageError(Exception):
    """Storage backend failure (missing object, unreachable server)."""


class ObjectNotFound(StorageError):
    pass


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing any object there (idempotent)."""

    async def get(self, key: str) -> bytes:
        """Return the object's bytes; raise :class:`ObjectNotFound` if absent."""

    def stream(self, key: str, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """Yield the object in chunks (downloads never load a whole file in memory)."""

    async def size(self, key: str) -> int:
        """Object size in bytes; raise :class:`ObjectNotFound` if absent."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Delete; deleting a missing key is not an error (retries are safe)."""

    async def list_keys(self, prefix: str = "") -> list[str]:
        """All keys under ``prefix`` (orphan checks, project deletion)."""

    async def presigned_url(
        self, key: str, *, filename: str, content_type: str, expires_s: int
    ) -> str | None:
        """A short-lived direct download URL, or ``None`` when the app must stream it."""

    async def check(self) -> None:
        """Raise :class:`StorageError` unless the backend is reachable (readiness)."""

    async def close(self) -> None: ...
