from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from vstage.dependencies import DatabaseDep, StorageDep
from vstage.errors import ServiceUnavailable

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about its dependencies."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(db: DatabaseDep, storage: StorageDep) -> dict[str, str]:
    """Ready to serve: the database answers and storage is reachable."""
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        raise ServiceUnavailable("database unreachable") from exc
    try:
        await storage.check()
    except Exception as exc:
        log.warning("readiness: storage unreachable: %s", exc)
        raise ServiceUnavailable("storage unreachable") from exc
    return {"status": "ready"}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(db: DatabaseDep) -> Response:
    from vstage.observability.collectors import refresh_queue_gauges

    await refresh_queue_gauges(db)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
