"""Personal API keys: shown once, stored hashed, act as their user minus admin powers."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text, update

from tests.fixtures.app import ClientFactory
from vstage.db import Database
from vstage.models import ApiKey, Base, User


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_client(client_for: ClientFactory, key: str) -> httpx.AsyncClient:
    """A client that authenticates with nothing but the API key."""
    client = client_for(None)
    client.headers.update(bearer(key))
    return client


async def create_key(client: httpx.AsyncClient, name: str = "listing sync") -> dict[str, str]:
    response = await client.post("/v1/api-keys", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def database_text(db: Database) -> str:
    """Every row of every table, as PostgreSQL renders it: what a dump would contain."""
    async with db.transaction() as session:
        dumps = [
            str(
                await session.scalar(
                    text(f"SELECT coalesce(string_agg(t::text, chr(10)), '') FROM \"{table}\" t")
                )
            )
            for table in Base.metadata.tables
        ]
    return "\n".join(dumps)


async def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(
    client_for: ClientFactory, pg_db: Database
) -> None:
    alice = client_for("alice")
    created = await create_key(alice)
    key = created["key"]
    assert key.startswith("vst_")
    assert len(key) == 4 + 43
    assert (created["prefix"], created["last4"]) == (key[:8], key[-4:])

    listed = (await alice.get("/v1/api-keys")).json()["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert key not in (await alice.get("/v1/api-keys")).text

    # Use it once so every place it could leak to (last-used, users) has been written.
    assert (await client_for(None).get("/v1/me", headers=bearer(key))).status_code == 200
    dump = await database_text(pg_db)
    assert key not in dump
    assert key[4:] not in dump
    async with pg_db.transaction() as session:
        stored = await session.scalar(select(ApiKey.key_hash))
    assert stored is not None
    assert stored in dump


async def test_a_key_authenticates_as_its_user_with_the_same_quota(
    client_for: ClientFactory, pg_db: Database
) -> None:
    alice = client_for("alice")
    me = (await alice.get("/v1/me")).json()
    key = (await create_key(alice))["key"]

    via_key = await client_for(None).get("/v1/me", headers=bearer(key))

    assert via_key.status_code == 200
    assert via_key.json()["id"] == me["id"]
    assert via_key.json()["usage"] == me["usage"]
    projects = await client_for(None).post(
        "/v1/projects", json={"name": "Made by a script"}, headers=bearer(key)
    )
    assert projects.status_code == 201
    listed = (await alice.get("/v1/projects")).json()["items"]
    assert [p["name"] for p in listed] == ["Made by a script"]


async def test_last_use_is_recorded_at_most_once_a_minute(
    client_for: ClientFactory, pg_db: Database
) -> None:
    created = await create_key(client_for("alice"))
    anonymous = client_for(None)

    await anonymous.get("/v1/me", headers=bearer(created["key"]))
    first = (await client_for("alice").get("/v1/api-keys")).json()["items"][0]["last_used_at"]
    await anonymous.get("/v1/me", headers=bearer(created["key"]))
    second = (await client_for("alice").get("/v1/api-keys")).json()["items"][0]["last_used_at"]

    assert first is not None
    assert second == first


async def test_a_revoked_key_is_refused_at_once(client_for: ClientFactory) -> None:
    alice = client_for("alice")
    created = await create_key(alice)
    script = key_client(client_for, created["key"])
    assert (await script.get("/v1/projects")).status_code == 200

    assert (await alice.delete(f"/v1/api-keys/{created['id']}")).status_code == 204

    refused = await script.get("/v1/projects")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    listed = (await alice.get("/v1/api-keys")).json()["items"]
    assert listed[0]["revoked"] is True


async def test_unknown_and_malformed_keys_are_refused(client_for: ClientFactory) -> None:
    anonymous = client_for(None)
    for token in ("vst_" + "A" * 43, "vst_short", "vst_" + "!" * 43):
        assert (await anonymous.get("/v1/me", headers=bearer(token))).status_code == 401


async def test_a_key_never_acts_as_admin(client_for: ClientFactory, pg_db: Database) -> None:
    root = client_for("root")
    await root.get("/v1/me")
    async with pg_db.transaction() as session:
        await session.execute(update(User).where(User.auth0_sub == "root").values(role="admin"))
    key = (await create_key(root))["key"]
    assert (await root.get("/v1/admin/users")).status_code == 200

    script = key_client(client_for, key)
    for method, path in [
        ("GET", "/v1/admin/users"),
        ("GET", "/v1/admin/jobs"),
        ("PATCH", "/v1/admin/users/00000000-0000-0000-0000-000000000000"),
    ]:
        response = await script.request(method, path, json={"role": "user"})
        assert response.status_code == 403, (method, path)


async def test_a_key_cannot_create_or_revoke_keys(client_for: ClientFactory) -> None:
    alice = client_for("alice")
    created = await create_key(alice)
    script = key_client(client_for, created["key"])

    assert (await script.post("/v1/api-keys", json={"name": "more"})).status_code == 403
    assert (await script.delete(f"/v1/api-keys/{created['id']}")).status_code == 403
    assert (await script.get("/v1/api-keys")).status_code == 200  # reading is fine
    assert len((await alice.get("/v1/api-keys")).json()["items"]) == 1


async def test_other_users_resources_are_404_with_a_key(client_for: ClientFactory) -> None:
    bob = client_for("bob")
    bobs_project = (await bob.post("/v1/projects", json={"name": "Bob's"})).json()["id"]
    bobs_key = await create_key(bob)
    alice_key = (await create_key(client_for("alice")))["key"]
    script = key_client(client_for, alice_key)

    assert (await script.get(f"/v1/projects/{bobs_project}")).status_code == 404
    assert (await script.get(f"/v1/projects/{bobs_project}/images")).status_code == 404
    assert (await client_for("alice").delete(f"/v1/api-keys/{bobs_key['id']}")).status_code == 404
    assert (await script.get("/v1/api-keys")).json()["items"][0]["id"] != bobs_key["id"]
