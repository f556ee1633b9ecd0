"""Uploading photos: what is accepted, what is stored, and the 202 that comes back."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select

from tests.fixtures.app import ClientFactory
from tests.images import photos
from tests.images.api import new_project, set_free_limit, upload
from vstage.db import Database
from vstage.models import Image as ImageRow
from vstage.models import Job, Usage
from vstage.staging.engine import variation_seeds
from vstage.storage import Storage


def stored(app: FastAPI) -> Storage:
    storage: Storage = app.state.storage
    return storage


async def test_upload_answers_202_with_one_image_and_one_job_per_variation(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    project_id = await new_project(client)
    response = await upload(client, project_id, variations=3, seed=1234)
    assert response.status_code == 202, response.text
    body = response.json()
    assert len(body["images"]) == len(body["jobs"]) == 3
    seeds = [image["seed"] for image in body["images"]]
    assert seeds == variation_seeds(1234, 3), "derived the engine's way, the first is 1234"
    for image, job in zip(body["images"], body["jobs"], strict=True):
        assert image["status"] == "queued"
        assert image["project_id"] == project_id
        assert (image["room_type"], image["style"]) == ("living_room", "modern")
        assert (image["width"], image["height"]) == (64, 48)
        assert image["original_url"] == f"/v1/images/{image['id']}/original"
        assert image["staged_url"] is None
        assert job["image_id"] == image["id"]
        assert (job["type"], job["status"], job["attempts"]) == ("stage_image", "queued", 0)
    async with pg_db.transaction() as session:
        jobs = (await session.scalars(select(Job))).all()
        charges = (await session.scalars(select(Usage))).all()
    assert {str(j.image_id) for j in jobs} == {i["id"] for i in body["images"]}
    assert len(charges) == 3, "each staged image is charged once"


async def test_variations_share_one_stored_original_under_a_random_key(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    project_id = await new_project(client)
    response = await upload(client, project_id, variations=2, filename="../../etc/passwd.jpg")
    assert response.status_code == 202
    keys = await stored(app).list_keys()
    assert len(keys) == 1
    [key] = keys
    assert "passwd" not in key
    assert ".." not in key
    assert key.endswith("/original.jpg")
    async with pg_db.transaction() as session:
        urls = set((await session.scalars(select(ImageRow.original_url))).all())
    assert urls == {key}


async def test_seed_is_random_when_omitted(client: httpx.AsyncClient, pg_db: Database) -> None:
    await set_free_limit(pg_db, 10)
    project_id = await new_project(client)
    seeds = set()
    for _ in range(3):
        response = await upload(client, project_id)
        assert response.status_code == 202
        seed = response.json()["images"][0]["seed"]
        assert 0 <= seed < 2**32
        seeds.add(seed)
    assert len(seeds) == 3


async def test_png_stays_png_and_mask_is_stored_as_grayscale_png(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    project_id = await new_project(client)
    response = await upload(
        client,
        project_id,
        photos.png(),
        filename="room.png",
        content_type="image/png",
        mask=photos.mask_png(),
    )
    assert response.status_code == 202, response.text
    keys = sorted(await stored(app).list_keys())
    assert [k.rsplit("/", 1)[1] for k in keys] == ["original.png", "user_mask.png"]
    mask = Image.open(io.BytesIO(await stored(app).get(keys[1])))
    assert mask.mode == "L"
    assert mask.getpixel((0, 0)) == 255
    assert mask.getpixel((63, 0)) == 0


async def test_gps_and_all_other_metadata_are_stripped(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    project_id = await new_project(client)
    assert (await upload(client, project_id, photos.jpeg_with_gps())).status_code == 202
    [key] = await stored(app).list_keys()
    data = await stored(app).get(key)
    kept = Image.open(io.BytesIO(data))
    assert not kept.getexif(), "no EXIF at all, so no GPS"
    assert b"Exif" not in data
    assert b"SecretCam" not in data
    assert b"Elm Street" not in data
    assert "comment" not in kept.info
    assert "icc_profile" not in kept.info


async def test_exif_rotated_photo_is_stored_upright(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    project_id = await new_project(client)
    response = await upload(client, project_id, photos.sideways_jpeg())
    assert response.status_code == 202
    assert (response.json()["images"][0]["width"], response.json()["images"][0]["height"]) == (
        40,
        80,
    )
    [key] = await stored(app).list_keys()
    upright = Image.open(io.BytesIO(await stored(app).get(key))).convert("RGB")
    assert upright.size == (40, 80)
    top, bottom = upright.getpixel((20, 10)), upright.getpixel((20, 70))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 150 > top[2], "the red half is on top"
    assert bottom[2] > 150 > bottom[0], "the blue half is at the bottom"


async def test_upload_into_a_missing_project_is_404(client: httpx.AsyncClient) -> None:
    response = await upload(client, str(uuid.uuid4()))
    assert response.status_code == 404


async def test_unknown_room_type_or_style_is_422_naming_the_valid_codes(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    project_id = await new_project(client)
    bad_room = await upload(client, project_id, room_type="dungeon")
    assert bad_room.status_code == 422
    assert "living_room" in bad_room.json()["error"]["message"]
    bad_style = await upload(client, project_id, style="gothic")
    assert bad_style.status_code == 422
    assert await stored(app).list_keys() == []


async def test_bad_fields_are_422(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    bad: list[dict[str, Any]] = [
        {"variations": 0},
        {"variations": 5},
        {"seed": -1},
        {"seed": 2**63},
    ]
    for fields in bad:
        response = await upload(client, project_id, **fields)
        assert response.status_code == 422, fields
    response = await client.post(
        f"/v1/projects/{project_id}/images",
        files={"room_type": (None, "bedroom"), "style": (None, "modern")},
    )
    assert response.status_code == 422, "the photo is required"
    assert "file" in response.json()["error"]["message"]


async def test_non_multipart_body_is_415(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    response = await client.post(
        f"/v1/projects/{project_id}/images", json={"room_type": "bedroom", "style": "modern"}
    )
    assert response.status_code == 415


async def test_upload_requires_authentication(client_for: ClientFactory) -> None:
    project_id = await new_project(client_for("alice"))
    response = await upload(client_for(None), project_id)
    assert response.status_code == 401
