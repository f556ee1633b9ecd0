"""Read-only lookups only the web pages need (no API endpoint shows these views)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Image

MAX_VARIATIONS_SHOWN = 48


async def variations_of(session: AsyncSession, image: Image) -> Sequence[Image]:
    """Every image of the project made from the same uploaded photo (variations and
    restages share the stored original), oldest first. The caller has already checked
    that ``image`` belongs to the user, and these are in the same project."""
    stmt = (
        select(Image)
        .where(Image.project_id == image.project_id, Image.original_url == image.original_url)
        .order_by(Image.created_at, Image.id)
        .limit(MAX_VARIATIONS_SHOWN)
    )
    return (await session.scalars(stmt)).all()
