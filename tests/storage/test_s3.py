"""S3Storage against a real SeaweedFS: the storage contract, prefixes, presigned URLs."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.s3 import S3Server
from tests.storage.contract import StorageContract, new_key
from vstage.config import Settings
from vstage.storage import S3Storage, StorageError, make_storage


@pytest.fixture
def storage(s3_storage: S3Storage) -> S3Storage:
    return s3_storage


class TestS3StorageContract(StorageContract):
    pass


async def test_objects_live_under_the_configured_prefix_with_their_type(
    s3_server: S3Server, s3_storage: S3Storage
) -> None:
    key = new_key("staged.png")
    await s3_storage.put(key, b"png", "image/png")
    raw_key = f"{s3_storage.prefix}/{key}"
    head = s3_server.client().head_object(Bucket=s3_storage.bucket, Key=raw_key)
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == 3


async def test_objects_outside_the_prefix_are_invisible(
    s3_server: S3Server, s3_storage: S3Storage
) -> None:
    raw = s3_server.client()
    raw.put_object(Bucket=s3_storage.bucket, Key="elsewhere/x", Body=b"x")
    raw.put_object(Bucket=s3_storage.bucket, Key=f"{s3_storage.prefix}-sibling/y", Body=b"y")
    key = new_key()
    await s3_storage.put(key, b"mine", "image/jpeg")
    assert await s3_storage.list_keys() == [key]
    assert not await s3_storage.exists("elsewhere/x")


async def test_list_keys_follows_pagination(s3_server: S3Server) -> None:
    storage = s3_server.storage(s3_server.create_bucket(), "p", list_page_size=7)
    try:
        keys = sorted(new_key() for _ in range(23))
        for key in keys:
            await storage.put(key, b"x", "image/jpeg")
        assert await storage.list_keys() == keys
    finally:
        await storage.close()


async def test_presigned_url_downloads_with_name_and_type(s3_storage: S3Storage) -> None:
    key = new_key("staged.jpg")
    await s3_storage.put(key, b"\xff\xd8staged\xff\xd9", "image/jpeg")
    url = await s3_storage.presigned_url(
        key, filename="Küche staged.jpg", content_type="image/jpeg", expires_s=60
    )
    assert url is not None
    async with httpx.AsyncClient() as http:
        response = await http.get(url)  # no credentials: the URL alone grants access
    assert response.status_code == 200
    assert response.content == b"\xff\xd8staged\xff\xd9"
    assert response.headers["content-type"] == "image/jpeg"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="K_che staged.jpg"')
    assert "filename*=UTF-8''K%C3%BCche%20staged.jpg" in disposition


async def test_presigned_url_lifetime_never_exceeds_the_configured_ceiling(
    s3_server: S3Server,
) -> None:
    storage = s3_server.storage(s3_server.create_bucket(), presign_seconds=120)
    try:
        key = new_key()
        short = await storage.presigned_url(key, filename="a", content_type="a/b", expires_s=30)
        long = await storage.presigned_url(key, filename="a", content_type="a/b", expires_s=86400)
        assert short is not None
        assert long is not None
        assert parse_qs(urlsplit(short).query)["X-Amz-Expires"] == ["30"]
        assert parse_qs(urlsplit(long).query)["X-Amz-Expires"] == ["120"]
    finally:
        await storage.close()


async def test_a_presigned_url_cannot_be_edited_to_fetch_another_object(
    s3_storage: S3Storage,
) -> None:
    mine, theirs = new_key(), new_key()
    await s3_storage.put(mine, b"mine", "image/jpeg")
    await s3_storage.put(theirs, b"theirs", "image/jpeg")
    url = await s3_storage.presigned_url(
        mine, filename="a.jpg", content_type="image/jpeg", expires_s=60
    )
    assert url is not None
    async with httpx.AsyncClient() as http:
        forged = await http.get(url.replace(mine, theirs))
        unsigned = await http.get(url.split("?", 1)[0].replace(mine, theirs))
    assert forged.status_code == 403
    assert unsigned.status_code == 403


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_check_fails_against_a_wrong_endpoint() -> None:
    storage = S3Storage(
        "bucket",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        access_key="k",
        secret_key="s",
        connect_timeout_s=1,
    )
    try:
        with pytest.raises(StorageError, match="unreachable"):
            await storage.check()
    finally:
        await storage.close()


async def test_check_fails_for_a_missing_bucket(s3_server: S3Server) -> None:
    storage = s3_server.storage("no-such-bucket-here")
    try:
        with pytest.raises(StorageError, match="no-such-bucket-here"):
            await storage.check()
    finally:
        await storage.close()


async def test_check_fails_with_wrong_credentials(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    storage = S3Storage(
        bucket, endpoint_url=s3_server.endpoint_url, access_key="intruder", secret_key="guess"
    )
    try:
        with pytest.raises(StorageError):
            await storage.check()
        with pytest.raises(StorageError):
            await storage.put(new_key(), b"x", "image/jpeg")
    finally:
        await storage.close()


async def test_make_storage_uses_settings_and_the_standard_aws_credentials(
    s3_env: dict[str, str],
) -> None:
    storage = make_storage(Settings())
    assert isinstance(storage, S3Storage)
    try:
        assert storage.bucket == s3_env["VSTAGE_STORAGE_URL"].removeprefix("s3://").split("/")[0]
        assert storage.prefix == "vstage"
        await storage.check()
        key = new_key()
        await storage.put(key, b"via env", "image/jpeg")
        assert await storage.get(key) == b"via env"
    finally:
        await storage.close()
