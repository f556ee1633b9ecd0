"""Images on a real S3 server (SeaweedFS): uploads land in the bucket, downloads are a 302
to a presigned URL that really downloads, deletes empty the bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import dev_auth
from tests.images import photos
from tests.images.api import new_project, upload
from vstage.app import create_app
from vstage.db import Database
from vstage.storage import Storage


@pytest.fixture
async def s3_client(
    pg_db: Database, s3_env: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    settings = pg_db.settings.model_copy(
        update={
            "storage_url": s3_env["VSTAGE_STORAGE_URL"],
            "s3_endpoint_url": s3_env["VSTAGE_S3_ENDPOINT_URL"],
            "s3_presign_seconds": 60,
        }
    )
    app = create_app(settings, database=pg_db, start_worker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers=dev_auth("alice"),
        ) as client,
    ):
        yield client, app


async def test_download_redirects_to_a_presigned_url_that_downloads(
    s3_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = s3_client
    storage: Storage = app.state.storage
    project_id = await new_project(client)
    image = (await upload(client, project_id, photos.jpeg_with_gps())).json()["images"][0]
    [key] = await storage.list_keys()

    response = await client.get(f"/v1/images/{image['id']}/original")
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=60" in location

    async with httpx.AsyncClient() as anyone:  # no credentials: the URL is the credential
        downloaded = await anyone.get(location)
    assert downloaded.status_code == 200
    assert downloaded.content == await storage.get(key)
    assert downloaded.headers["content-type"] == "image/jpeg"
    assert downloaded.headers["content-disposition"].startswith("attachment; filename=")
    assert b"SecretCam" not in downloaded.content

    bob = await client.get(f"/v1/images/{image['id']}/original", headers=dev_auth("bob"))
    assert bob.status_code == 404, "no presigned URL for someone else's file"


async def test_deleting_the_project_empties_its_part_of_the_bucket(
    s3_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = s3_client
    storage: Storage = app.state.storage
    project_id = await new_project(client)
    await upload(client, project_id, mask=photos.mask_png())
    assert len(await storage.list_keys()) == 2
    assert (await upload(client, project_id, photos.SVG)).status_code == 415
    assert len(await storage.list_keys()) == 2, "a refused upload stores nothing"
    assert (await client.delete(f"/v1/projects/{project_id}")).status_code == 204
    assert await storage.list_keys() == []
