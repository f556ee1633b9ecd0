"""Which plan the "Upgrade" button buys: the smallest priced plan above the current one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Plan
from vstage.plans.service import list_plans


async def upgrade_options(session: AsyncSession, current_limit: int) -> list[Plan]:
    """Plans a user on ``current_limit`` can buy, smallest first (priced ones only)."""
    return [p for p in await list_plans(session) if p.price_id and p.monthly_limit > current_limit]
