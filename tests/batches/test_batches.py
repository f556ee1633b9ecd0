"""``POST /v1/projects/{id}/stage``: a listing staged in one request, one shared seed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project, set_free_limit, upload
from vstage.db import Database
from vstage.models import Image, ImageStatus, Job, Usage


async def uploaded(client: httpx.AsyncClient, project_id: str, **fields: Any) -> list[str]:
    response = await upload(client, project_id, **fields)
    assert response.status_code == 202, response.text
    return [image["id"] for image in response.json()["images"]]


async def set_status(db: Database, image_id: str, status: ImageStatus) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Image).where(Image.id == uuid.UUID(image_id)).values(status=status)
        )


async def count(db: Database, model: type[Image] | type[Usage]) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_every_photo_never_staged_is_staged_with_one_shared_seed(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 20)
    project_id = await new_project(client)
    [kitchen] = await uploaded(client, project_id)
    bedroom = await uploaded(client, project_id, variations=2)  # two rows, one photo
    [done] = await uploaded(client, project_id)
    await set_status(pg_db, done, ImageStatus.ready)
    await set_status(pg_db, kitchen, ImageStatus.error)

    response = await client.post(
        f"/v1/projects/{project_id}/stage", json={"room_type": "bedroom", "style": "scandinavian"}
    )

    assert response.status_code == 202, response.text
    batch = response.json()
    sources = [i["source_image_id"] for i in batch["images"]]
    assert len(sources) == 2
    assert sources[0] == kitchen
    assert sources[1] in bedroom
    seed = batch["style_seed"]
    assert {i["seed"] for i in batch["images"]} == {seed}
    assert {(i["room_type"], i["style"], i["status"]) for i in batch["images"]} == {
        ("bedroom", "scandinavian", "queued")
    }
    assert [j["image_id"] for j in batch["jobs"]] == [i["id"] for i in batch["images"]]
    async with pg_db.transaction() as session:
        ids = [uuid.UUID(i["id"]) for i in batch["images"]]
        recorded = (await session.scalars(select(Image.style_seed).where(Image.id.in_(ids)))).all()
        payloads = (
            await session.scalars(select(Job.payload_json).where(Job.image_id.in_(ids)))
        ).all()
    assert list(recorded) == [seed, seed]
    assert [(p["seed"], p["style_seed"]) for p in payloads] == [(seed, seed)] * 2


async def test_named_images_are_staged_again_whatever_their_status(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 20)
    project_id = await new_project(client)
    [ready] = await uploaded(client, project_id)
    [failed] = await uploaded(client, project_id)
    await set_status(pg_db, ready, ImageStatus.ready)
    await set_status(pg_db, failed, ImageStatus.error)

    response = await client.post(
        f"/v1/projects/{project_id}/stage",
        json={"room_type": "living_room", "style": "modern", "image_ids": [ready, failed, ready]},
    )

    assert response.status_code == 202, response.text
    images = response.json()["images"]
    assert [i["source_image_id"] for i in images] == [ready, failed]  # each once, in order
    assert len({i["seed"] for i in images}) == 1


async def test_a_chosen_style_seed_is_used_for_a_matching_look(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    await uploaded(client, project_id)

    response = await client.post(
        f"/v1/projects/{project_id}/stage",
        json={"room_type": "bedroom", "style": "modern", "style_seed": 1234},
    )

    assert response.json()["style_seed"] == 1234
    assert response.json()["images"][0]["seed"] == 1234


async def test_images_from_elsewhere_are_404_and_nothing_is_created(
    client_for: ClientFactory, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 20)
    alice, bob = client_for("alice"), client_for("bob")
    here = await new_project(alice)
    [mine] = await uploaded(alice, here)
    [other_project] = await uploaded(alice, await new_project(alice, "Other listing"))
    bobs_project = await new_project(bob)
    [bobs] = await uploaded(bob, bobs_project)
    before = await count(pg_db, Image)

    for image_ids in ([mine, other_project], [bobs], [str(uuid.uuid4())]):
        response = await alice.post(
            f"/v1/projects/{here}/stage",
            json={"room_type": "bedroom", "style": "modern", "image_ids": image_ids},
        )
        assert response.status_code == 404, image_ids
    stage_bobs = await alice.post(
        f"/v1/projects/{bobs_project}/stage", json={"room_type": "bedroom", "style": "modern"}
    )
    assert stage_bobs.status_code == 404
    assert await count(pg_db, Image) == before


async def test_a_batch_over_quota_is_refused_whole(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 4)
    project_id = await new_project(client)
    for _ in range(3):
        await uploaded(client, project_id)
    images, charges = await count(pg_db, Image), await count(pg_db, Usage)

    response = await client.post(
        f"/v1/projects/{project_id}/stage", json={"room_type": "bedroom", "style": "modern"}
    )

    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["limit"], error["used"]) == (4, 3)
    assert (await count(pg_db, Image), await count(pg_db, Usage)) == (images, charges)


async def test_an_idempotency_key_makes_a_retried_batch_return_the_first(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 20)
    project_id = await new_project(client)
    await uploaded(client, project_id)
    await uploaded(client, project_id)
    body = {"room_type": "bedroom", "style": "modern"}
    key = {"Idempotency-Key": "listing-42-stage"}

    first = await client.post(f"/v1/projects/{project_id}/stage", json=body, headers=key)
    images = await count(pg_db, Image)
    again = await client.post(f"/v1/projects/{project_id}/stage", json=body, headers=key)
    other = await client.post(
        f"/v1/projects/{project_id}/stage", json={**body, "style": "japandi"}, headers=key
    )

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(pg_db, Image) == images
    assert other.status_code == 422


async def test_a_listing_with_nothing_left_to_stage_is_422(
    client: httpx.AsyncClient, pg_db: Database
) -> None:
    project_id = await new_project(client)
    [image] = await uploaded(client, project_id)
    await set_status(pg_db, image, ImageStatus.ready)

    response = await client.post(
        f"/v1/projects/{project_id}/stage", json={"room_type": "bedroom", "style": "modern"}
    )

    assert response.status_code == 422
    assert "nothing to stage" in response.json()["error"]["message"]


async def test_room_type_and_style_must_be_in_the_catalog(client: httpx.AsyncClient) -> None:
    project_id = await new_project(client)
    await uploaded(client, project_id)
    for body in ({"room_type": "dungeon", "style": "modern"}, {"room_type": "bedroom"}):
        response = await client.post(f"/v1/projects/{project_id}/stage", json=body)
        assert response.status_code == 422, body
