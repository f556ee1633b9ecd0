"""Local-directory storage (embedded mode and single-machine installs).

Durability: every ``put`` writes a temporary file next to the target, fsyncs it,
``os.replace``s it over the target and fsyncs the directory, so after a crash a key
holds either its old bytes or its new bytes, never a torn file. Temporary files are
dot-names, which :mod:`vstage.storage.keys` never produces, so they can neither
collide with a key nor show up in ``list_keys``.

Safety: keys are validated against a tiny alphabet (no ``..``, no absolute paths, no
backslashes), so a key cannot name anything outside ``root``.

All file I/O runs in worker threads; the event loop never waits on the disk. There are
no presigned URLs: the app streams files itself.
"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from vstage.storage.base import ObjectNotFound, StorageError
from vstage.storage.keys import validate_key, validate_prefix

_TMP_PREFIX = ".tmp-"
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
P = ParamSpec("P")
T = TypeVar("T")


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    """The :class:`~vstage.storage.base.Storage` protocol on a directory tree."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """The file that holds ``key`` (after validation; it may not exist)."""
        return self.root.joinpath(*validate_key(key).split("/"))

    @staticmethod
    async def _io(key: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking ``fn`` in a thread; map OS errors onto the storage errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except _MISSING:
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"local storage failed on {key!r}: {exc}") from exc

    # -- writes -----------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Atomically replace ``key``. ``content_type`` is not kept: names imply it."""
        path = self.path_for(key)
        try:
            await asyncio.to_thread(self._put_sync, path, data)
        except OSError as exc:
            raise StorageError(f"local storage failed to write {key!r}: {exc}") from exc

    def _put_sync(self, path: Path, data: bytes) -> None:
        # A concurrent ``delete`` may prune the parent between mkdir and open: retry.
        for attempt in range(3):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:
                if attempt == 2:
                    raise
                continue
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
            return

    async def delete(self, key: str) -> None:
        """Remove ``key`` (missing is fine) and prune directories left empty."""
        await self._io(key, self._delete_sync, self.path_for(key))

    def _delete_sync(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            return  # a key prefix, not an object: nothing to delete
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break  # not empty (or gone): stop pruning
            parent = parent.parent

    # -- reads ------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        return await self._io(key, self.path_for(key).read_bytes)

    async def stream(self, key: str, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """Yield chunks; :class:`ObjectNotFound` surfaces on the first iteration."""
        fh = await self._io(key, self.path_for(key).open, "rb")
        try:
            while chunk := await self._io(key, fh.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(fh.close)

    async def size(self, key: str) -> int:
        st = await self._io(key, self.path_for(key).stat)
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(key)  # a directory is a key prefix, not an object
        return st.st_size

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_for(key).is_file)

    async def list_keys(self, prefix: str = "") -> list[str]:
        return await self._io(prefix, self._list_sync, validate_prefix(prefix))

    def _list_sync(self, prefix: str) -> list[str]:
        # Walk only the deepest directory the prefix names, not the whole tree.
        base_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*base_dir.split("/")) if base_dir else self.root
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue  # temporary files of in-flight puts
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def presigned_url(
        self, key: str, *, filename: str, content_type: str, expires_s: int
    ) -> str | None:
        """Always ``None``: local files are streamed by the app."""
        validate_key(key)
        return None

    # -- lifecycle --------------------------------------------------------------

    async def check(self) -> None:
        """Raise :class:`StorageError` unless ``root`` is a writable directory."""
        await asyncio.to_thread(self._check_sync)

    def _check_sync(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"storage directory {self.root} unusable: {exc}") from exc
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError(f"storage directory {self.root} is not a writable directory")

    async def close(self) -> None:
        """Nothing to release."""
