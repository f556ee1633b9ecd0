"""The behaviour every storage backend promises (the ``Storage`` protocol, executable).

Backends subclass :class:`StorageContract` in their own test module and provide a
``storage`` fixture; each test here then runs against that backend.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from vstage.storage import InvalidKey, ObjectNotFound, Storage, image_prefix, storage_key

BAD_KEYS = [
    "",
    "../escape",
    "a/../../etc/passwd",
    "a/..",
    "/etc/passwd",
    "a\\b",
    "..\\windows",
    "a//b",
    "a/",
    ".hidden",
    "a/./b",
    "nul\x00byte",
    "new\nline",
    "spa ce",
    "caf\u00e9",
]


def new_key(name: str = "original.jpg") -> str:
    return storage_key(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), name)


class StorageContract:
    async def test_put_then_get_returns_the_same_bytes(self, storage: Storage) -> None:
        key = new_key()
        await storage.put(key, b"\x00jpeg bytes\xff", "image/jpeg")
        assert await storage.get(key) == b"\x00jpeg bytes\xff"

    async def test_put_replaces_an_existing_object(self, storage: Storage) -> None:
        key = new_key()
        await storage.put(key, b"first version, longer", "image/jpeg")
        await storage.put(key, b"second", "image/jpeg")
        assert await storage.get(key) == b"second"
        assert await storage.size(key) == len(b"second")

    async def test_empty_objects_are_objects(self, storage: Storage) -> None:
        key = new_key()
        await storage.put(key, b"", "application/octet-stream")
        assert await storage.exists(key)
        assert await storage.size(key) == 0
        assert await storage.get(key) == b""

    async def test_missing_objects_raise_object_not_found(self, storage: Storage) -> None:
        key = new_key()
        with pytest.raises(ObjectNotFound):
            await storage.get(key)
        with pytest.raises(ObjectNotFound):
            await storage.size(key)
        with pytest.raises(ObjectNotFound):
            async for _ in storage.stream(key):
                pass
        assert not await storage.exists(key)

    async def test_a_key_prefix_is_not_an_object(self, storage: Storage) -> None:
        key = new_key()
        await storage.put(key, b"x", "image/jpeg")
        folder = key.rsplit("/", 1)[0]
        assert not await storage.exists(folder)
        with pytest.raises(ObjectNotFound):
            await storage.get(folder)

    async def test_size_and_exists_follow_the_object(self, storage: Storage) -> None:
        key = new_key("staged.png")
        assert not await storage.exists(key)
        await storage.put(key, b"p" * 1234, "image/png")
        assert await storage.exists(key)
        assert await storage.size(key) == 1234

    async def test_delete_removes_and_deleting_twice_is_fine(self, storage: Storage) -> None:
        key = new_key()
        await storage.put(key, b"bye", "image/jpeg")
        await storage.delete(key)
        assert not await storage.exists(key)
        await storage.delete(key)  # retried deletes must be safe
        await storage.delete(new_key())  # never existed

    async def test_stream_yields_bounded_chunks_of_the_whole_object(self, storage: Storage) -> None:
        key = new_key()
        data = bytes(range(256)) * 4000 + b"tail"  # 1 MB + 4 bytes, not chunk aligned
        await storage.put(key, data, "image/jpeg")
        chunks = [chunk async for chunk in storage.stream(key, chunk_size=64 * 1024)]
        assert b"".join(chunks) == data
        assert len(chunks) >= len(data) // (64 * 1024)
        assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)

    async def test_a_stream_abandoned_midway_releases_its_resources(self, storage: Storage) -> None:
        key = new_key()
        await storage.put(key, b"z" * 300_000, "image/jpeg")
        for _ in range(20):  # would exhaust file handles / pooled connections if leaked
            stream = storage.stream(key, chunk_size=1000)
            assert await anext(stream) == b"z" * 1000
            await stream.aclose()  # type: ignore[attr-defined]
        assert await storage.get(key) == b"z" * 300_000

    async def test_list_keys_returns_sorted_keys_under_a_prefix(self, storage: Storage) -> None:
        user, project, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        images = [uuid.uuid4() for _ in range(3)]
        expected = sorted(
            storage_key(user, project, image, name)
            for image in images
            for name in ("original.jpg", "staged.png")
        )
        await asyncio.gather(*(storage.put(k, b"x", "image/png") for k in expected))
        await storage.put(storage_key(user, other, uuid.uuid4(), "original.jpg"), b"x", "a/b")

        assert await storage.list_keys(f"u/{user}/p/{project}/") == expected
        first = image_prefix(user, project, images[0])
        assert await storage.list_keys(first) == [first + "original.jpg", first + "staged.png"]
        assert await storage.list_keys(f"u/{user}/p/{project}") == expected  # partial segment
        assert len(await storage.list_keys(f"u/{user}/")) == len(expected) + 1
        assert await storage.list_keys(f"u/{uuid.uuid4()}/") == []

    async def test_list_keys_without_prefix_lists_everything(self, storage: Storage) -> None:
        keys = sorted([new_key(), new_key("mask.png"), "loose-object"])
        for key in keys:
            await storage.put(key, b"x", "image/png")
        assert set(keys) <= set(await storage.list_keys())

    async def test_many_concurrent_puts_all_land(self, storage: Storage) -> None:
        keys = [new_key() for _ in range(40)]
        await asyncio.gather(*(storage.put(k, k.encode(), "image/jpeg") for k in keys))
        contents = await asyncio.gather(*(storage.get(k) for k in keys))
        assert contents == [k.encode() for k in keys]

    @pytest.mark.parametrize("bad", BAD_KEYS)
    async def test_malformed_keys_are_refused_by_every_method(
        self, storage: Storage, bad: str
    ) -> None:
        with pytest.raises(InvalidKey):
            await storage.put(bad, b"evil", "text/plain")
        with pytest.raises(InvalidKey):
            await storage.get(bad)
        with pytest.raises(InvalidKey):
            await storage.size(bad)
        with pytest.raises(InvalidKey):
            await storage.exists(bad)
        with pytest.raises(InvalidKey):
            await storage.delete(bad)
        with pytest.raises(InvalidKey):
            async for _ in storage.stream(bad):
                pass
        with pytest.raises(InvalidKey):
            await storage.presigned_url(
                bad, filename="x.jpg", content_type="image/jpeg", expires_s=60
            )

    @pytest.mark.parametrize("bad", ["../", "/abs", "a\\b", "a//", ".tmp-"])
    async def test_malformed_prefixes_are_refused(self, storage: Storage, bad: str) -> None:
        with pytest.raises(InvalidKey):
            await storage.list_keys(bad)

    async def test_check_passes_on_a_healthy_backend(self, storage: Storage) -> None:
        await storage.check()
