"""S3-compatible storage (AWS S3, SeaweedFS, MinIO, R2, ...) via boto3.

Design choices and why:

- One boto3 client per instance, created once: clients are thread-safe and own the
  connection pool; sessions are not, so they are only used, under a lock, to build
  clients.
- boto3 blocks, so every call runs on this instance's own thread pool (sized like the
  connection pool). A burst of downloads then cannot starve the event loop's default
  executor that other code (image decoding, SQLite) relies on.
- Credentials come from the standard AWS chain (env vars, shared config, instance
  role) unless given explicitly; tests pass them explicitly.
- SigV4 everywhere (SigV2 presigned URLs are rejected by most servers), path-style
  addressing on request (needed by SeaweedFS/MinIO behind a plain host name), and
  checksums only when the operation requires them, which every S3 clone accepts.
- Presigned GETs carry ``response-content-disposition``/``-type`` so the browser
  gets the right name and type straight from S3; their lifetime never exceeds the
  configured ``presign_seconds`` (an operator's ceiling, not a suggestion).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vstage.storage.base import ObjectNotFound, StorageError
from vstage.storage.disposition import content_disposition
from vstage.storage.keys import validate_key, validate_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 hard limit


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_session_lock = threading.Lock()
_shared_session: boto3.session.Session | None = None


def _make_client(
    access_key: str | None, secret_key: str | None, endpoint_url: str | None, config: Config
) -> S3Client:
    """Build a client; sessions are not thread-safe, so creation is serialised.

    With explicit keys, one process-wide session is reused: it caches the parsed S3
    service model, making each further client ~3 ms instead of ~50 ms. Without them a
    fresh session reads the AWS credential chain as it is now (a shared session would
    keep the first credentials it ever resolved).
    """
    global _shared_session
    with _session_lock:
        if access_key and secret_key:
            if _shared_session is None:
                _shared_session = boto3.session.Session()
            session = _shared_session
        else:
            session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )


class S3Storage:
    """The :class:`~vstage.storage.base.Storage` protocol on one bucket (+ prefix)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        path_style: bool = True,
        presign_seconds: int = 300,
        access_key: str | None = None,
        secret_key: str | None = None,
        max_connections: int = 16,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        list_page_size: int = 1000,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.endpoint_url = endpoint_url
        self.presign_seconds = presign_seconds
        self.list_page_size = list_page_size
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "virtual"},
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=max_connections,
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client = _make_client(access_key, secret_key, endpoint_url, config)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="s3")
        self._closed = False

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _full(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _call(self, what: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a blocking boto3 call on our pool; map errors onto storage errors."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, **kwargs))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                raise ObjectNotFound(what) from None
            raise StorageError(f"S3 {what}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {what}: {exc}") from exc

    # -- writes -----------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """One PUT: S3 makes it atomic (readers see the old or the new object)."""
        await self._call(
            f"put {key}",
            self._client.put_object,
            Bucket=self.bucket,
            Key=self._full(key),
            Body=data,
            ContentType=content_type,
        )

    async def delete(self, key: str) -> None:
        """S3 DELETE is idempotent: a missing key is not an error."""
        await self._call(
            f"delete {key}", self._client.delete_object, Bucket=self.bucket, Key=self._full(key)
        )

    # -- reads ------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            obj = self._client.get_object(Bucket=self.bucket, Key=self._full(key))
            with obj["Body"] as body:
                return body.read()

        return await self._call(key, read)

    async def stream(self, key: str, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """Yield chunks; the HTTP body is closed even if the consumer stops early."""
        obj = await self._call(
            key, self._client.get_object, Bucket=self.bucket, Key=self._full(key)
        )
        body = obj["Body"]
        try:
            while chunk := await self._call(key, body.read, amt=chunk_size):
                yield chunk
        finally:
            await self._call(key, body.close)

    async def size(self, key: str) -> int:
        head = await self._call(
            key, self._client.head_object, Bucket=self.bucket, Key=self._full(key)
        )
        return int(head["ContentLength"])

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except ObjectNotFound:
            return False
        return True

    async def list_keys(self, prefix: str = "") -> list[str]:
        """All keys under ``prefix``, following pagination (``list_page_size`` per page)."""
        validate_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""

        def collect() -> list[str]:
            paginator = self._client.get_paginator("list_objects_v2")
            keys: list[str] = []
            pages = paginator.paginate(
                Bucket=self.bucket,
                Prefix=root + prefix,
                PaginationConfig={"PageSize": self.list_page_size},
            )
            for page in pages:
                keys.extend(obj["Key"][len(root) :] for obj in page.get("Contents", []))
            return sorted(keys)

        return await self._call(f"list {prefix!r}", collect)

    async def presigned_url(
        self, key: str, *, filename: str, content_type: str, expires_s: int
    ) -> str | None:
        """A SigV4 GET URL valid for ``min(expires_s, presign_seconds)`` seconds."""
        expires = max(1, min(expires_s, self.presign_seconds, _MAX_PRESIGN_SECONDS))
        params = {
            "Bucket": self.bucket,
            "Key": self._full(key),
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        return await self._call(
            f"presign {key}",
            self._client.generate_presigned_url,
            ClientMethod="get_object",
            Params=params,
            ExpiresIn=expires,
        )

    # -- lifecycle --------------------------------------------------------------

    async def check(self) -> None:
        """HEAD the bucket: proves endpoint, credentials and bucket all work."""
        try:
            await self._call("check", self._client.head_bucket, Bucket=self.bucket)
        except StorageError as exc:
            raise StorageError(
                f"S3 bucket {self.bucket!r} at {self.endpoint_url or 'AWS'} unreachable: {exc}"
            ) from exc

    async def close(self) -> None:
        """Close pooled connections, then the thread pool (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._call("close", self._client.close)
        self._pool.shutdown(wait=False, cancel_futures=True)
