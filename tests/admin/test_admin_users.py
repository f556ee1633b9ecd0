"""``/v1/admin/users``: operators list users and grant or revoke the admin role."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_user
from tests.fixtures.app import ClientFactory
from vstage.db import Database


@pytest.fixture
async def admin(client_for: ClientFactory, pg_db: Database) -> httpx.AsyncClient:
    async with pg_db.transaction() as session:
        await make_user(session, sub="root", role="admin")
    return client_for("root")


async def test_admin_lists_users_newest_first_and_filters_by_role(
    admin: httpx.AsyncClient, client_for: ClientFactory
) -> None:
    await client_for("alice").get("/v1/me")
    await client_for("bob").get("/v1/me")
    page = (await admin.get("/v1/admin/users", params={"limit": 2})).json()
    assert [u["auth0_sub"] for u in page["items"]] == ["bob", "alice"]
    assert page["next_cursor"]
    admins = (await admin.get("/v1/admin/users", params={"role": "admin"})).json()
    assert [u["auth0_sub"] for u in admins["items"]] == ["root"]


async def test_granting_admin_takes_effect_at_the_next_request(
    admin: httpx.AsyncClient, client_for: ClientFactory
) -> None:
    alice = client_for("alice")
    alice_id = (await alice.get("/v1/me")).json()["id"]
    assert (await alice.get("/v1/admin/users")).status_code == 403
    response = await admin.patch(f"/v1/admin/users/{alice_id}", json={"role": "admin"})
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert (await alice.get("/v1/admin/users")).status_code == 200
    await admin.patch(f"/v1/admin/users/{alice_id}", json={"role": "user"})
    assert (await alice.get("/v1/admin/users")).status_code == 403


async def test_the_last_admin_cannot_be_demoted(admin: httpx.AsyncClient) -> None:
    me = (await admin.get("/v1/me")).json()
    response = await admin.patch(f"/v1/admin/users/{me['id']}", json={"role": "user"})
    assert response.status_code == 409
    assert (await admin.get("/v1/me")).json()["role"] == "admin"


async def test_bad_role_and_unknown_user(admin: httpx.AsyncClient) -> None:
    me = (await admin.get("/v1/me")).json()
    assert (
        await admin.patch(f"/v1/admin/users/{me['id']}", json={"role": "root"})
    ).status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    assert (
        await admin.patch(f"/v1/admin/users/{missing}", json={"role": "admin"})
    ).status_code == 404
