"""Reading, listing, restaging, deleting and downloading images."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.images import photos
from tests.images.api import new_project, set_free_limit, upload
from vstage.db import Database
from vstage.models import Image, ImageStatus, Usage
from vstage.storage import Storage, storage_key


def storage_of(app: FastAPI) -> Storage:
    storage: Storage = app.state.storage
    return storage


async def test_list_is_paginated_newest_first(client: httpx.AsyncClient, pg_db: Database) -> None:
    await set_free_limit(pg_db, 10)
    project_id = await new_project(client)
    ids = []
    for _ in range(3):
        ids.append((await upload(client, project_id)).json()["images"][0]["id"])
    first = (await client.get(f"/v1/projects/{project_id}/images", params={"limit": 2})).json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    rest = (
        await client.get(
            f"/v1/projects/{project_id}/images", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None


async def test_restage_makes_a_charged_image_sharing_the_original(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    project_id = await new_project(client)
    source = (await upload(client, project_id, room_type="bedroom")).json()["images"][0]
    response = await client.post(
        f"/v1/images/{source['id']}/restage", json={"style": "japandi", "seed": 7}
    )
    assert response.status_code == 202, response.text
    [image], [job] = response.json()["images"], response.json()["jobs"]
    assert image["id"] != source["id"]
    assert (image["room_type"], image["style"], image["seed"]) == ("bedroom", "japandi", 7)
    assert image["source_image_id"] == source["id"]
    assert job["image_id"] == image["id"]
    async with pg_db.transaction() as session:
        originals = (
            await session.scalars(
                select(Image.original_url).where(Image.id.in_([source["id"], image["id"]]))
            )
        ).all()
        charged = (await session.scalars(select(Usage.image_id))).all()
    assert len(set(originals)) == 1
    assert {str(i) for i in charged} == {source["id"], image["id"]}


async def test_restage_without_a_body_keeps_the_choices_with_a_new_seed(
    client: httpx.AsyncClient,
) -> None:
    project_id = await new_project(client)
    source = (await upload(client, project_id, style="coastal", seed=5)).json()["images"][0]
    image = (await client.post(f"/v1/images/{source['id']}/restage")).json()["images"][0]
    assert (image["room_type"], image["style"]) == ("living_room", "coastal")


async def test_restage_validates_choices(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    source = (await upload(client, project_id)).json()["images"][0]
    bad = await client.post(f"/v1/images/{source['id']}/restage", json={"style": "gothic"})
    assert bad.status_code == 422
    extra = await client.post(f"/v1/images/{source['id']}/restage", json={"owner": "x"})
    assert extra.status_code == 422


async def test_original_download_streams_the_clean_file_with_headers(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    project_id = await new_project(client)
    image = (await upload(client, project_id, photos.jpeg_with_gps())).json()["images"][0]
    response = await client.get(f"/v1/images/{image['id']}/original")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["x-content-type-options"] == "nosniff"
    [key] = await storage_of(app).list_keys()
    assert response.content == await storage_of(app).get(key)


async def test_staged_download_is_409_until_ready_then_the_file(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    project_id = await new_project(client)
    image = (await upload(client, project_id)).json()["images"][0]
    early = await client.get(f"/v1/images/{image['id']}/staged")
    assert early.status_code == 409
    assert "not staged yet" in early.json()["error"]["message"]

    me = (await client.get("/v1/me")).json()
    key = storage_key(me["id"], project_id, image["id"], "staged.jpg")
    await storage_of(app).put(key, photos.jpeg(64, 48, (1, 2, 3)), "image/jpeg")
    async with pg_db.transaction() as session:
        await session.execute(
            update(Image)
            .where(Image.id == image["id"])
            .values(status=ImageStatus.ready, staged_url=key)
        )
    ready = await client.get(f"/v1/images/{image['id']}")
    assert ready.json()["staged_url"] == f"/v1/images/{image['id']}/staged"
    staged = await client.get(f"/v1/images/{image['id']}/staged")
    assert staged.status_code == 200
    assert "staged" in staged.headers["content-disposition"]
    assert staged.content == await storage_of(app).get(key)


async def test_delete_image_removes_its_files_but_not_those_still_shared(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 10)
    project_id = await new_project(client)
    first, second = (await upload(client, project_id, variations=2, mask=photos.mask_png())).json()[
        "images"
    ]
    me = (await client.get("/v1/me")).json()
    staged_key = storage_key(me["id"], project_id, first["id"], "staged.jpg")
    await storage_of(app).put(staged_key, photos.jpeg(), "image/jpeg")
    async with pg_db.transaction() as session:
        await session.execute(
            update(Image).where(Image.id == first["id"]).values(staged_url=staged_key)
        )
    assert len(await storage_of(app).list_keys()) == 3

    assert (await client.delete(f"/v1/images/{first['id']}")).status_code == 204
    left = await storage_of(app).list_keys()
    assert staged_key not in left, "its own output is gone"
    assert [k.rsplit("/", 1)[1] for k in sorted(left)] == ["original.jpg", "user_mask.png"]
    assert (await client.get(f"/v1/images/{first['id']}")).status_code == 404
    assert (await client.get(f"/v1/images/{second['id']}/original")).status_code == 200

    assert (await client.delete(f"/v1/images/{second['id']}")).status_code == 204
    assert await storage_of(app).list_keys() == [], "the last user of the original took it along"


async def test_delete_project_removes_every_stored_file(
    client: httpx.AsyncClient, app: FastAPI, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 10)
    project_id = await new_project(client)
    other_project = await new_project(client, "keep me")
    await upload(client, project_id, variations=2)
    await upload(client, project_id, photos.png(), content_type="image/png")
    await upload(client, other_project)
    assert len(await storage_of(app).list_keys()) == 3
    assert (await client.delete(f"/v1/projects/{project_id}")).status_code == 204
    [kept] = await storage_of(app).list_keys()
    assert other_project in kept
    assert (await client.get(f"/v1/projects/{project_id}/images")).status_code == 404


async def test_catalog_lists_room_types_and_styles(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/catalog")).json()
    rooms = {r["code"]: r["label"] for r in body["room_types"]}
    styles = {s["code"]: s["label"] for s in body["styles"]}
    assert rooms["living_room"] == "Living room"
    assert "scandinavian" in styles
