from __future__ import annotations

from fastapi import APIRouter

from vstage.auth.dependencies import CurrentUser
from vstage.billing.entitlement import get_entitlement
from vstage.dependencies import SessionDep, SettingsDep
from vstage.usage import service as usage
from vstage.users.schemas import MeRead, PlanRead, UsageRead

router = APIRouter(prefix="/v1", tags=["users"])


@router.get("/me", response_model=MeRead)
async def me(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> MeRead:
    """The caller, their plan and this period's usage (read fresh on every request)."""
    ent = await get_entitlement(session, user, grace_days=settings.billing_grace_days)
    summary = await usage.summary(session, user, ent)
    return MeRead(
        id=user.id,
        auth0_sub=user.auth0_sub,
        role=user.role,
        plan=PlanRead(code=ent.plan_code, monthly_limit=ent.monthly_limit),
        usage=UsageRead(used=summary.used, limit=summary.limit, period_end=summary.period_end),
    )
