"""Registering, listing and deleting webhook endpoints."""

from __future__ import annotations

from tests.fixtures.app import ClientFactory

URL = "http://127.0.0.1:9/hooks"  # loopback is allowed in this folder's settings


async def test_the_secret_is_shown_once_at_creation(client_for: ClientFactory) -> None:
    alice = client_for("alice")

    created = await alice.post(
        "/v1/webhook-endpoints", json={"url": URL, "events": ["image.ready", "image.failed"]}
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["image.ready", "image.failed"]
    listed = await alice.get("/v1/webhook-endpoints")
    assert [e["id"] for e in listed.json()["items"]] == [body["id"]]
    assert body["secret"] not in listed.text


async def test_events_must_be_known_and_at_least_one(client_for: ClientFactory) -> None:
    alice = client_for("alice")
    for events in ([], ["image.deleted"], "image.ready"):
        response = await alice.post("/v1/webhook-endpoints", json={"url": URL, "events": events})
        assert response.status_code == 422, events


async def test_deleting_an_endpoint_stops_it(client_for: ClientFactory) -> None:
    alice = client_for("alice")
    endpoint = (
        await alice.post("/v1/webhook-endpoints", json={"url": URL, "events": ["image.ready"]})
    ).json()

    assert (await alice.delete(f"/v1/webhook-endpoints/{endpoint['id']}")).status_code == 204

    assert (await alice.get("/v1/webhook-endpoints")).json()["items"] == []
    assert (await alice.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")).status_code == 404


async def test_someone_elses_endpoint_is_404(client_for: ClientFactory) -> None:
    bobs = (
        await client_for("bob").post(
            "/v1/webhook-endpoints", json={"url": URL, "events": ["image.ready"]}
        )
    ).json()["id"]
    alice = client_for("alice")

    assert (await alice.delete(f"/v1/webhook-endpoints/{bobs}")).status_code == 404
    assert (await alice.get(f"/v1/webhook-endpoints/{bobs}/deliveries")).status_code == 404
    assert (await alice.post(f"/v1/webhook-endpoints/{bobs}/test")).status_code == 404
    assert (await alice.get("/v1/webhook-endpoints")).json()["items"] == []
