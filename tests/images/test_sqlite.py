"""Embedded mode (SQLite, one process): the images API works the same way."""

from __future__ import annotations

import uuid

from tests.fixtures.app import ClientFactory
from tests.images import photos
from tests.images.api import new_project, upload


async def test_upload_restage_replay_and_delete_on_sqlite(
    sqlite_client_for: ClientFactory,
) -> None:
    client = sqlite_client_for("alice")
    project_id = await new_project(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await upload(client, project_id, photos.jpeg_with_gps(), headers=key, variations=2)
    assert first.status_code == 202, first.text
    again = await upload(client, project_id, photos.jpeg_with_gps(), headers=key, variations=2)
    assert again.json() == first.json()
    image_id = first.json()["images"][0]["id"]
    assert (await client.get(f"/v1/images/{image_id}")).json()["status"] == "queued"
    assert (await client.get(f"/v1/jobs/{first.json()['jobs'][0]['id']}")).status_code == 200
    restaged = await client.post(f"/v1/images/{image_id}/restage", json={"style": "boho"})
    assert restaged.status_code == 422
    restaged = await client.post(f"/v1/images/{image_id}/restage", json={"style": "bohemian"})
    assert restaged.status_code == 202
    over = await client.post(f"/v1/images/{image_id}/restage", json={"style": "japandi"})
    assert over.status_code == 402, "the free plan's 3 images are used"
    original = await client.get(f"/v1/images/{image_id}/original")
    assert original.status_code == 200
    assert b"Exif" not in original.content
    assert (await client.delete(f"/v1/images/{image_id}")).status_code == 204
    assert (await sqlite_client_for("bob").get(f"/v1/images/{image_id}")).status_code == 404
