"""Calls the images tests make again and again, spelled once."""

from __future__ import annotations

from typing import Any

import httpx

from tests.images import photos
from vstage.db import Database
from vstage.plans.service import set_plan


async def new_project(client: httpx.AsyncClient, name: str = "12 Elm Street") -> str:
    response = await client.post("/v1/projects", json={"name": name})
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


async def upload(
    client: httpx.AsyncClient,
    project_id: str,
    data: bytes | None = None,
    *,
    filename: str = "living.jpg",
    content_type: str = "image/jpeg",
    mask: bytes | None = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    """``POST /v1/projects/{id}/images`` with a photo (a small JPEG unless given)."""
    form = {"room_type": "living_room", "style": "modern"}
    form.update({k: str(v) for k, v in fields.items()})
    files: dict[str, tuple[str, bytes, str]] = {
        "file": (filename, photos.jpeg() if data is None else data, content_type)
    }
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return await client.post(
        f"/v1/projects/{project_id}/images", data=form, files=files, headers=headers
    )


async def set_free_limit(db: Database, limit: int) -> None:
    """Every user without a subscription is on ``free``: give it ``limit`` images."""
    async with db.transaction() as session:
        await set_plan(session, "free", limit=limit)
