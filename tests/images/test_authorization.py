"""Object-level authorization: another user's project, image, job or file is 404 on every
route that takes an id (never 403, never its data); admin routes are 403 to non-admins."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project, upload
from vstage.storage import Storage


@pytest.fixture
async def alices(client_for: ClientFactory) -> dict[str, str]:
    """Alice's project, image and job ids."""
    alice = client_for("alice")
    project_id = await new_project(alice, "alice's listing")
    body = (await upload(alice, project_id)).json()
    return {
        "project": project_id,
        "image": body["images"][0]["id"],
        "job": body["jobs"][0]["id"],
    }


async def test_bob_gets_404_on_every_route_with_alices_ids(
    client_for: ClientFactory, alices: dict[str, str], app: FastAPI
) -> None:
    bob = client_for("bob")
    project, image, job = alices["project"], alices["image"], alices["job"]
    attempts: list[tuple[str, httpx.Response]] = [
        ("list images", await bob.get(f"/v1/projects/{project}/images")),
        ("upload into", await upload(bob, project)),
        ("get image", await bob.get(f"/v1/images/{image}")),
        ("restage", await bob.post(f"/v1/images/{image}/restage", json={"style": "luxury"})),
        ("download original", await bob.get(f"/v1/images/{image}/original")),
        ("download staged", await bob.get(f"/v1/images/{image}/staged")),
        ("events", await bob.get(f"/v1/images/{image}/events")),
        ("get job", await bob.get(f"/v1/jobs/{job}")),
        ("delete image", await bob.delete(f"/v1/images/{image}")),
        ("delete project", await bob.delete(f"/v1/projects/{project}")),
    ]
    for what, response in attempts:
        assert response.status_code == 404, what
        assert response.json()["error"]["code"] == "not_found", what
        assert "alice" not in response.text, what
        assert image not in response.text, what

    alice = client_for("alice")
    assert (await alice.get(f"/v1/images/{image}")).status_code == 200
    assert (await alice.get(f"/v1/images/{image}/original")).status_code == 200
    assert (await alice.get(f"/v1/jobs/{job}")).json()["status"] == "queued"
    listed = (await alice.get(f"/v1/projects/{project}/images")).json()["items"]
    assert [i["id"] for i in listed] == [image], "bob's attempts created and deleted nothing"
    storage: Storage = app.state.storage
    assert len(await storage.list_keys()) == 1


async def test_alices_ids_are_as_unknown_to_bob_as_random_ones(
    client_for: ClientFactory, alices: dict[str, str]
) -> None:
    bob = client_for("bob")
    theirs = await bob.get(f"/v1/images/{alices['image']}")
    missing = await bob.get(f"/v1/images/{uuid.uuid4()}")
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/admin/users", None),
        ("PATCH", "/v1/admin/users/{user}", {"role": "admin"}),
        ("GET", "/v1/admin/jobs", None),
        ("POST", "/v1/admin/jobs/{job}/retry", None),
    ],
)
async def test_admin_routes_are_403_for_non_admins(
    client_for: ClientFactory,
    alices: dict[str, str],
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    bob = client_for("bob")
    me = (await bob.get("/v1/me")).json()
    url = path.format(user=me["id"], job=alices["job"])
    response = await bob.request(method, url, json=body)
    assert response.status_code == 403
    assert (await bob.get("/v1/me")).json()["role"] == "user", "bob did not make himself admin"
