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
    return app


def _routers() -> list[APIRouter]:
    from vstage.health.endpoints import router as health
    from vstage.projects.endpoints import router as projects

    return [health, projects]


def _embedded_worker_hook() -> LifespanHook | None:
    """The queue package provides the in-process worker for embedded mode."""
    try:
        from vstage.queue.embedded import embedded_worker
    except ImportError:
        log.warning("no in-process worker available; jobs will wait for `vstage worker`")
        return None
    hook: LifespanHook = embedded_worker
    return hook
