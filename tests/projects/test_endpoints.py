"""Projects API: a user's own projects, and nobody else's."""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.app import ClientFactory


async def test_create_trims_the_name_and_returns_201(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/projects", json={"name": "  12 Elm Street  "})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "12 Elm Street"
    uuid.UUID(body["id"])


async def test_list_is_paginated_newest_first(client: httpx.AsyncClient) -> None:
    for i in range(5):
        assert (await client.post("/v1/projects", json={"name": f"p{i}"})).status_code == 201
    first = (await client.get("/v1/projects", params={"limit": 2})).json()
    assert [p["name"] for p in first["items"]] == ["p4", "p3"]
    second = (
        await client.get("/v1/projects", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [p["name"] for p in second["items"]] == ["p2", "p1"]
    third = (
        await client.get("/v1/projects", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [p["name"] for p in third["items"]] == ["p0"]
    assert third["next_cursor"] is None


async def test_rename_and_delete(client: httpx.AsyncClient) -> None:
    pid = (await client.post("/v1/projects", json={"name": "old"})).json()["id"]
    renamed = await client.patch(f"/v1/projects/{pid}", json={"name": "new"})
    assert renamed.status_code == 200
    assert (await client.get(f"/v1/projects/{pid}")).json()["name"] == "new"
    assert (await client.delete(f"/v1/projects/{pid}")).status_code == 204
    assert (await client.get(f"/v1/projects/{pid}")).status_code == 404


async def test_another_users_project_is_404_for_every_verb(client_for: ClientFactory) -> None:
    alice, bob = client_for("alice"), client_for("bob")
    pid = (await alice.post("/v1/projects", json={"name": "alice's"})).json()["id"]
    assert (await bob.get(f"/v1/projects/{pid}")).status_code == 404
    assert (await bob.patch(f"/v1/projects/{pid}", json={"name": "x"})).status_code == 404
    assert (await bob.delete(f"/v1/projects/{pid}")).status_code == 404
    assert (await bob.get("/v1/projects")).json()["items"] == []
    response = await bob.get(f"/v1/projects/{pid}")
    assert "alice" not in response.text
    assert (await alice.get(f"/v1/projects/{pid}")).json()["name"] == "alice's"


async def test_bad_names_are_422(client: httpx.AsyncClient) -> None:
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": 5}, {}):
        response = await client.post("/v1/projects", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_input"


async def test_unknown_fields_are_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/projects", json={"name": "ok", "owner": "mallory"})
    assert response.status_code == 422


async def test_malformed_uuid_and_bad_cursor_are_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/projects/not-a-uuid")).status_code == 422
    bad = await client.get("/v1/projects", params={"cursor": "garbage!!"})
    assert bad.status_code == 422
    assert (await client.get("/v1/projects", params={"limit": 0})).status_code == 422


async def test_anonymous_is_401_with_www_authenticate(client_for: ClientFactory) -> None:
    anonymous = client_for(None)
    response = await anonymous.get("/v1/projects")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"


async def test_projects_work_on_sqlite_too(sqlite_client_for: ClientFactory) -> None:
    client = sqlite_client_for("carol")
    pid = (await client.post("/v1/projects", json={"name": "embedded"})).json()["id"]
    assert (await client.get(f"/v1/projects/{pid}")).json()["name"] == "embedded"
    assert (await sqlite_client_for("dave").get(f"/v1/projects/{pid}")).status_code == 404
