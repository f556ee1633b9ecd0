"""The application factory: wires settings, database, storage, auth and routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI

from vstage.auth.dependencies import TokenVerifier
from vstage.config import Settings, get_settings
from vstage.db import Database
from vstage.error_handlers import install_error_handlers
from vstage.observability.middleware import JsonBodyLimitMiddleware, RequestContextMiddleware
from vstage.storage import make_storage

log = logging.getLogger(__name__)

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _token_verifier(settings: Settings) -> TokenVerifier | None:
    if settings.auth_mode != "auth0":
        return None
    from vstage.auth.auth0 import Auth0Verifier

    verifier: TokenVerifier = Auth0Verifier(settings)
    return verifier


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    start_worker: bool | None = None,
) -> FastAPI:
    """Build the ASGI app.

    ``start_worker`` defaults to embedded mode's in-process worker; tests pass
    ``False`` and drive workers themselves.
    """
    settings = settings or get_settings()
    run_worker = (
        settings.embedded and settings.embedded_worker if start_worker is None else start_worker
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(settings)
        app.state.settings = settings
        app.state.db = db
        app.state.storage = make_storage(settings)
        app.state.token_verifier = _token_verifier(settings)
        worker_hook = _embedded_worker_hook() if run_worker else None
        try:
            if worker_hook is not None:
                async with worker_hook(app):
                    yield
            else:
                yield
        finally:
            await app.state.storage.close()
            if app.state.token_verifier is not None:
                await app.state.token_verifier.close()
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="vstage",
        version="0.1.0",
        summary="AI virtual staging that never touches the architecture.",
        lifespan=lifespan,
    )
    # Available before startup too (tests and the OpenAPI generator read them).
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(JsonBodyLimitMiddleware, limit=settings.max_json_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    for router in _routers():
        app.include_router(router)
    from vstage.web.router import install_web

    install_web(app)
    return app


def _routers() -> list[APIRouter]:
    from vstage.admin.endpoints import router as admin
    from vstage.admin.user_endpoints import router as admin_users
    from vstage.apikeys.endpoints import router as api_keys
    from vstage.batches.endpoints import router as batches
    from vstage.billing.endpoints import router as billing
    from vstage.catalog.endpoints import router as catalog
    from vstage.health.endpoints import router as health
    from vstage.images.endpoints import router as images
    from vstage.jobs.endpoints import router as jobs
    from vstage.projects.endpoints import router as projects
    from vstage.users.endpoints import router as users
    from vstage.web.router import router as web
    from vstage.webhooks.endpoints import router as webhooks

    return [
        *(health, users, projects, images, batches, jobs, catalog, billing, admin, admin_users),
        *(api_keys, webhooks, web),
    ]


def _embedded_worker_hook() -> LifespanHook | None:
    """The queue package provides the in-process worker for embedded mode."""
    from vstage.queue.embedded import embedded_worker

    hook: LifespanHook = embedded_worker
    return hook
