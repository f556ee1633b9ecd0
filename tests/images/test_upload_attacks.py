"""Hostile uploads: every one is refused with the right status, fast, storing nothing."""

from __future__ import annotations

import resource
import time

import httpx
import pytest
from fastapi import FastAPI

from tests.images import photos
from tests.images.api import new_project, upload
from vstage.storage import Storage

MiB = 1024 * 1024


async def assert_nothing_stored(app: FastAPI) -> None:
    storage: Storage = app.state.storage
    assert await storage.list_keys() == []


async def test_pixel_bomb_is_rejected_from_its_header_fast_and_in_bounded_memory(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    bomb = photos.png_bomb(50_000, 50_000)
    assert len(bomb) < 64 * 1024, "a few KB on disk"
    project_id = await new_project(client)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    response = await upload(client, project_id, bomb, filename="bomb.png", content_type="image/png")
    elapsed = time.perf_counter() - started
    rss_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert response.status_code == 422
    assert "50000" in response.json()["error"]["message"]
    assert elapsed < 2.0
    assert rss_growth_mib < 100, "decoding 50,000 x 50,000 would need 7.5 GB"
    await assert_nothing_stored(app)


@pytest.mark.parametrize(
    ("name", "data", "filename", "content_type"),
    [
        ("svg", photos.SVG, "room.svg", "image/svg+xml"),
        ("svg renamed", photos.SVG, "room.jpg", "image/jpeg"),
        ("html renamed", photos.HTML, "room.jpg", "image/jpeg"),
        ("script renamed", photos.SCRIPT, "room.jpg", "image/jpeg"),
        ("pdf", photos.PDF, "room.pdf", "application/pdf"),
        ("gif", photos.gif(), "room.gif", "image/gif"),
        ("tiff", photos.tiff(), "room.tiff", "image/tiff"),
        ("bmp", photos.bmp(), "room.bmp", "image/bmp"),
    ],
)
async def test_formats_outside_the_allowlist_are_415_whatever_they_are_called(
    client: httpx.AsyncClient,
    app: FastAPI,
    name: str,
    data: bytes,
    filename: str,
    content_type: str,
) -> None:
    project_id = await new_project(client)
    response = await upload(client, project_id, data, filename=filename, content_type=content_type)
    assert response.status_code == 415, name
    assert response.json()["error"]["code"] == "unsupported_media_type"
    await assert_nothing_stored(app)


async def test_truncated_jpeg_is_422(client: httpx.AsyncClient, app: FastAPI) -> None:
    project_id = await new_project(client)
    response = await upload(client, project_id, photos.truncated_jpeg())
    assert response.status_code == 422
    assert "truncated" in response.json()["error"]["message"]
    await assert_nothing_stored(app)


async def test_empty_file_is_422(client: httpx.AsyncClient, app: FastAPI) -> None:
    project_id = await new_project(client)
    response = await upload(client, project_id, b"")
    assert response.status_code == 422
    assert "empty" in response.json()["error"]["message"]
    await assert_nothing_stored(app)


async def test_30_mb_upload_is_413(client: httpx.AsyncClient, app: FastAPI) -> None:
    project_id = await new_project(client)
    huge = b"\xff\xd8\xff\xe0" + bytes(30 * MiB)
    response = await upload(client, project_id, huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    await assert_nothing_stored(app)


async def test_size_cap_holds_without_content_length_and_stops_reading_early(
    client: httpx.AsyncClient,
) -> None:
    """A chunked body is counted as it streams: the server stops reading at the cap."""
    project_id = await new_project(client)
    boundary = "vstage-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="room_type"\r\n\r\nbedroom\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="style"\r\n\r\nmodern\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    sent = 0

    async def body() -> object:
        nonlocal sent
        yield head
        for _ in range(100):  # would be 100 MiB
            sent += 1
            yield bytes(MiB)

    response = await client.post(
        f"/v1/projects/{project_id}/images",
        content=body(),  # type: ignore[arg-type]
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert sent <= 27, f"the server read {sent} MiB of a body it had already refused"


async def test_declared_oversized_body_is_refused_before_reading_it(
    client: httpx.AsyncClient,
) -> None:
    project_id = await new_project(client)
    response = await client.post(
        f"/v1/projects/{project_id}/images",
        content=b"tiny",
        headers={
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(200 * MiB),
        },
    )
    assert response.status_code == 413


async def test_mask_that_is_not_a_png_is_415_and_of_another_size_is_422(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    project_id = await new_project(client)
    not_png = await upload(client, project_id, mask=photos.jpeg())
    assert not_png.status_code == 415
    wrong_size = await upload(client, project_id, mask=photos.mask_png(32, 32))
    assert wrong_size.status_code == 422
    assert "mask" in wrong_size.json()["error"]["message"]
    await assert_nothing_stored(app)


async def test_malformed_multipart_is_422(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    response = await client.post(
        f"/v1/projects/{project_id}/images",
        content=b'--x\r\nContent-Disposition: form-data; name="room_type"\r\n\r\nbedr',
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 422
