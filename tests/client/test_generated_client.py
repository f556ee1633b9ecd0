"""A Python client generated from ``/openapi.json`` works: an integrator's whole path.

The document is fetched from the running app, turned into a client package by
``openapi-python-client``, imported, and used against the app served on loopback with
its in-process worker running the tiny real model: API key → project → upload → poll →
download.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.client import generator
from tests.client.generator import imported, module
from tests.client.live import served
from tests.web.room import room_jpeg
from vstage.app import create_app
from vstage.db import Database
from vstage.staging.tiny import make_tiny_pipeline

POLL_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd15"), "sd15")


@pytest.fixture
def base_url(pg_committed_db: Database, tiny_model: Path) -> Iterator[str]:
    """The app on PostgreSQL with an in-process worker staging with the tiny model."""
    settings = pg_committed_db.settings.model_copy(
        update={
            "model": str(tiny_model),
            "work_size": 256,
            "steps": 2,
            "drift_retries": 0,
            "torch_threads": 1,
            "device": "cpu",
            "worker_poll_seconds": 0.1,
        }
    )
    with served(create_app(settings, start_worker=True)) as url:
        yield url


@pytest.fixture
def client_package(base_url: str, tmp_path: Path) -> Iterator[Any]:
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(f"{base_url}/openapi.json").text)
    with imported(generator.generate(spec, tmp_path / "client")) as package:
        yield package


def test_upload_fields_are_declared_binary(client_package: Any, base_url: str) -> None:
    """Without ``format: binary`` the generator types files as strings (FACTS.md)."""
    document = httpx.get(f"{base_url}/openapi.json").json()
    upload = document["paths"]["/v1/projects/{project_id}/images"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert schema["properties"]["mask"]["format"] == "binary"
    body_model = module("models").UploadImagesV1ProjectsProjectIdImagesPostBody
    assert "File" in str(body_model.__annotations__["file"])


def test_an_integrator_stages_a_photo_through_the_generated_client(
    client_package: Any, base_url: str
) -> None:
    models = module("models")
    types = module("types")
    person = client_package.AuthenticatedClient(base_url=base_url, token="dev:agent|jane")
    key = (
        module("api.api_keys.create_api_key_v1_api_keys_post")
        .sync(client=person, body=models.ApiKeyCreate(name="listing platform"))
        .key
    )
    api = client_package.AuthenticatedClient(base_url=base_url, token=key, timeout=30.0)

    project = module("api.projects.create_project_v1_projects_post").sync(
        client=api, body=models.ProjectCreate(name="7 Orchard Row")
    )
    photo = room_jpeg(400, 300, seed=3)
    accepted = module("api.images.upload_images_v1_projects_project_id_images_post").sync(
        project.id,
        client=api,
        body=models.UploadImagesV1ProjectsProjectIdImagesPostBody(
            file=types.File(
                payload=io.BytesIO(photo), file_name="room.jpg", mime_type="image/jpeg"
            ),
            room_type=models.UploadImagesV1ProjectsProjectIdImagesPostBodyRoomType("bedroom"),
            style=models.UploadImagesV1ProjectsProjectIdImagesPostBodyStyle("modern"),
            seed=11,
        ),
    )
    assert isinstance(accepted, models.StagingAccepted), accepted
    [image] = accepted.images

    get_image = module("api.images.get_image_v1_images_image_id_get")
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while (image := get_image.sync(image.id, client=api)).status.value not in ("ready", "error"):
        assert time.monotonic() < deadline, f"still {image.status.value}"
        time.sleep(0.2)
    assert image.status.value == "ready", image.error
    assert image.seed == 11

    download = module("api.images.download_staged_v1_images_image_id_staged_get").sync_detailed(
        image.id, client=api
    )
    assert download.status_code == 200
    staged = Image.open(io.BytesIO(download.content))
    assert (staged.format, staged.size) == ("JPEG", (400, 300))
    listed = json.loads(
        module("api.images.list_images_v1_projects_project_id_images_get")
        .sync_detailed(project.id, client=api)
        .content
    )
    assert [item["id"] for item in listed["items"]] == [str(image.id)]
