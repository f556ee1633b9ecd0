"""LocalStorage: the storage contract on a directory, plus crash safety and confinement."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.storage.contract import BAD_KEYS, StorageContract, new_key
from vstage.config import Settings
from vstage.errors import ConfigError
from vstage.storage import LocalStorage, StorageError, make_storage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


class TestLocalStorageContract(StorageContract):
    pass


async def test_objects_are_plain_files_under_the_root(storage: LocalStorage) -> None:
    key = new_key()
    await storage.put(key, b"abc", "image/jpeg")
    assert (storage.root / key).read_bytes() == b"abc"


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_no_key_can_write_outside_the_root(tmp_path: Path, bad: str) -> None:
    storage = LocalStorage(tmp_path / "a" / "b" / "root")
    with pytest.raises(StorageError):
        await storage.put(bad, b"evil", "text/plain")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_presigned_url_is_none_because_the_app_streams(storage: LocalStorage) -> None:
    key = new_key()
    await storage.put(key, b"x", "image/jpeg")
    url = await storage.presigned_url(
        key, filename="a.jpg", content_type="image/jpeg", expires_s=60
    )
    assert url is None


async def test_delete_prunes_directories_left_empty_but_keeps_the_root(
    storage: LocalStorage,
) -> None:
    key = new_key("original.jpg")
    sibling = key.rsplit("/", 1)[0] + "/staged.png"
    await storage.put(key, b"x", "image/jpeg")
    await storage.put(sibling, b"y", "image/png")
    await storage.delete(key)
    assert storage.path_for(sibling).is_file()
    await storage.delete(sibling)
    assert storage.root.is_dir()
    assert list(storage.root.iterdir()) == []


async def test_a_crash_mid_write_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    """SIGKILL a process while it writes 256 MB over a key: the old bytes survive whole."""
    storage = LocalStorage(tmp_path / "storage")
    key = new_key()
    await storage.put(key, b"old version", "image/jpeg")
    writer = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from vstage.storage.local import LocalStorage
        data = b"n" * (256 * 1024 * 1024)
        asyncio.run(LocalStorage(Path({str(storage.root)!r})).put({key!r}, data, "image/jpeg"))
        """
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", writer)
    folder = storage.path_for(key).parent
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".tmp-") for p in folder.iterdir()):
        assert proc.returncode is None, "writer finished before it could be interrupted"
        assert time.monotonic() < deadline, "writer never started writing"
        await asyncio.sleep(0.001)
    proc.kill()  # SIGKILL: no cleanup handlers run, exactly like a crash
    await proc.wait()

    assert await storage.get(key) == b"old version"
    assert await storage.list_keys() == [key]  # the torn temp file is invisible


async def test_check_fails_when_the_root_is_not_a_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="storage directory"):
        await LocalStorage(blocker).check()
    with pytest.raises(StorageError):
        await LocalStorage(blocker / "sub").check()


async def test_check_creates_a_missing_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "new" / "dir")
    await storage.check()
    assert storage.root.is_dir()


def test_make_storage_resolves_file_urls_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = make_storage(Settings(storage_url="file://./var/storage"))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path.resolve() / "var" / "storage"

    absolute = make_storage(Settings(storage_url=f"file://{tmp_path}/abs"))
    assert isinstance(absolute, LocalStorage)
    assert absolute.root == tmp_path.resolve() / "abs"


def test_make_storage_refuses_an_empty_file_url() -> None:
    with pytest.raises(ConfigError, match="VSTAGE_STORAGE_URL"):
        make_storage(Settings(storage_url="file://"))
