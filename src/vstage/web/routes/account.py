"""Account page: plan, usage meter, Upgrade (Stripe Checkout) and Manage billing (portal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vstage.billing import service as billing
from vstage.billing.dependencies import BillingAccount, Gateway
from vstage.billing.entitlement import get_entitlement
from vstage.dependencies import DatabaseDep, SessionDep, SettingsDep
from vstage.errors import Conflict
from vstage.usage import service as usage
from vstage.users.service import find_user
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import WebUser
from vstage.web.plans import upgrade_options
from vstage.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/account")
async def account_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    checkout: str | None = None,
    portal: str | None = None,
) -> Response:
    """Plan and usage exactly as ``GET /v1/me`` computes them."""
    ent = await get_entitlement(session, user, grace_days=settings.billing_grace_days)
    summary = await usage.summary(session, user, ent)
    options = await upgrade_options(session, ent.monthly_limit)
    return render(
        request,
        "account.html",
        {
            "entitlement": ent,
            "usage": summary,
            "upgrade_plans": options,
            "billing_enabled": settings.stripe_enabled,
            "checkout": checkout,
            "portal_missing": portal == "none",
        },
    )


@router.post("/account/upgrade")
async def upgrade(
    _csrf: CsrfProtected,
    account: BillingAccount,
    db: DatabaseDep,
    settings: SettingsDep,
    gateway: Gateway,
    plan: Annotated[str, Form()] = "",
) -> Response:
    """Send the browser to Stripe Checkout (the same service ``POST /v1/billing/checkout``
    calls). No plan named (the upload page's button): the smallest plan above the current."""
    if not plan:
        async with db.transaction() as session:
            user = await find_user(session, str(account.user_id))
            ent = await get_entitlement(session, user, grace_days=settings.billing_grace_days)
            options = await upgrade_options(session, ent.monthly_limit)
        if not options:
            return RedirectResponse("/account", status_code=303)
        plan = options[0].code
    url = await billing.start_checkout(db, gateway, settings, account, plan)
    return RedirectResponse(url, status_code=303)


@router.post("/account/billing-portal")
async def billing_portal(
    request: Request,
    _csrf: CsrfProtected,
    account: BillingAccount,
    settings: SettingsDep,
    gateway: Gateway,
) -> Response:
    """Send the browser to the Stripe Customer Portal (``POST /v1/billing/portal``)."""
    try:
        url = await billing.open_portal(gateway, settings, account)
    except Conflict:
        return RedirectResponse("/account?portal=none", status_code=303)
    return RedirectResponse(url, status_code=303)
