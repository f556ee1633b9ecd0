"""``GET /v1/catalog``: what ``room_type`` and ``style`` accept, with labels (DESIGN §6)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from vstage.catalog.schemas import CatalogRead
from vstage.staging.catalog import catalog_dict

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/catalog", response_model=CatalogRead)
async def get_catalog(response: Response) -> CatalogRead:
    """Public and the same for everyone, so caches may keep it for a while."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return CatalogRead.model_validate(catalog_dict())
