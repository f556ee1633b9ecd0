"""Where staging is charged: every image row an upload or restage creates costs one unit.

The authoritative check-and-charge is :func:`vstage.usage.service.charge` (user row
locked, same transaction as the image rows and their jobs, so an image exists iff it
was charged). :func:`precheck` is only an early, lock-free "no" that spares an
over-quota upload the decode and the storage round-trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from vstage.billing.entitlement import get_entitlement
from vstage.config import Settings
from vstage.errors import QuotaExceeded
from vstage.models import User
from vstage.usage import service as usage


def upgrade_url(settings: Settings) -> str:
    """Where a user over quota can pick a bigger plan (the web UI's account page)."""
    return settings.public_url.rstrip("/") + "/account"


async def precheck(session: AsyncSession, user: User, count: int, settings: Settings) -> None:
    """Raise 402 now if ``count`` more images cannot fit (not race-free; see module doc)."""
    ent = await get_entitlement(session, user, grace_days=settings.billing_grace_days)
    used = await usage.used_in_period(session, user.id, ent)
    if used + count > ent.monthly_limit:
        raise QuotaExceeded(
            f"monthly limit of {ent.monthly_limit} images on the {ent.plan_code} plan reached",
            limit=ent.monthly_limit,
            used=used,
            upgrade_url=upgrade_url(settings),
        )


async def charge(
    session: AsyncSession, user: User, image_ids: Sequence[uuid.UUID], settings: Settings
) -> None:
    """Charge one unit per image in the caller's transaction, or raise 402."""
    ent = await get_entitlement(session, user, grace_days=settings.billing_grace_days)
    await usage.charge(session, user, image_ids, ent, upgrade_url=upgrade_url(settings))
