"""A listing of six photos staged by a worker running the tiny real diffusers model."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project, set_free_limit, upload
from tests.web.room import room_jpeg
from vstage.db import Database
from vstage.models import Image, ImageStatus, Job
from vstage.queue import Worker
from vstage.queue.registry import load_builtin_handlers
from vstage.staging.tiny import make_tiny_pipeline
from vstage.storage import make_storage


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd15"), "sd15")


async def test_a_batch_of_six_photos_comes_out_ready_with_one_style_seed(
    committed_client_for: ClientFactory, pg_committed_db: Database, tiny_model: Path
) -> None:
    await set_free_limit(pg_committed_db, 12)
    alice = committed_client_for("alice")
    project_id = await new_project(alice, "4 Harbour Lane")
    for seed in range(6):
        response = await upload(alice, project_id, room_jpeg(320, 240, seed=seed))
        assert response.status_code == 202, response.text

    response = await alice.post(
        f"/v1/projects/{project_id}/stage", json={"room_type": "living_room", "style": "coastal"}
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    assert len(batch["images"]) == 6

    settings = pg_committed_db.settings.model_copy(
        update={
            "model": str(tiny_model),
            "work_size": 256,
            "steps": 2,
            "drift_retries": 0,
            "torch_threads": 1,
            "device": "cpu",
        }
    )
    load_builtin_handlers()
    worker = Worker(
        pg_committed_db, make_storage(settings), settings, burst=True, listen=False, rescue=False
    )
    await worker.run()

    ids = [uuid.UUID(image["id"]) for image in batch["images"]]
    async with pg_committed_db.transaction() as session:
        images = (await session.scalars(select(Image).where(Image.id.in_(ids)))).all()
        jobs = (await session.scalars(select(Job).where(Job.image_id.in_(ids)))).all()
    assert [i.status for i in images] == [ImageStatus.ready] * 6, [i.error for i in images]
    assert {(i.style_seed, i.seed) for i in images} == {(batch["style_seed"], batch["style_seed"])}
    assert {(j.result_json or {}).get("requested_seed") for j in jobs} == {batch["style_seed"]}
    for image_id in ids:
        staged = await alice.get(f"/v1/images/{image_id}/staged")
        assert staged.status_code == 200
        assert staged.headers["content-type"] == "image/jpeg"
