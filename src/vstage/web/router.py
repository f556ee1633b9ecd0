"""Everything the app factory needs from the web UI: one router and one install hook."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from vstage.web.errors import install_web_errors
from vstage.web.routes import (
    account,
    admin,
    auth,
    batch,
    images,
    integrations,
    project,
    projects,
    upload,
)
from vstage.web.templating import STATIC_DIR

router = APIRouter(include_in_schema=False)
for _module in (auth, projects, project, upload, batch, images, account, integrations, admin):
    router.include_router(_module.router)


def install_web(app: FastAPI) -> None:
    """Serve the vendored assets and switch error responses to HTML pages for browsers."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_web_errors(app)
