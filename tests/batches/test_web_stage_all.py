"""The project page's "Stage all" control and its batch progress, without a browser."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.fixtures.app import ClientFactory
from tests.images.api import new_project, set_free_limit, upload
from vstage.db import Database

HTML = {"accept": "text/html,application/xhtml+xml"}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def test_stage_all_stages_the_listing_and_the_page_follows_its_progress(
    app: FastAPI, client_for: ClientFactory, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 10)
    api = client_for("web|lister")
    project_id = await new_project(api)
    await upload(api, project_id)
    await upload(api, project_id)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://test", headers=HTML
    ) as browser:  # https: outside embedded mode the cookies are Secure
        token = csrf_token((await browser.get("/login")).text)
        await browser.post("/auth/dev-login", data={"csrf_token": token, "sub": "web|lister"})
        page = (await browser.get(f"/projects/{project_id}")).text
        assert ">Stage all</button>" in page
        assert f'hx-get="/projects/{project_id}/batch"' in page

        staged = await browser.post(
            f"/projects/{project_id}/stage",
            data={"csrf_token": csrf_token(page), "room_type": "bedroom", "style": "japandi"},
        )
        progress = await browser.get(f"/projects/{project_id}/batch")

    assert staged.status_code == 303
    assert staged.headers["location"] == f"/projects/{project_id}"
    assert "Listing batch: 0 of 2 ready" in progress.text
    assert 'hx-trigger="every 2s"' in progress.text  # keeps polling until it is finished
    images = (await api.get(f"/v1/projects/{project_id}/images")).json()["items"]
    assert [(i["room_type"], i["style"]) for i in images[:2]] == [("bedroom", "japandi")] * 2
