"""``/v1/billing``: Checkout, Customer Portal and the Stripe webhook (HTTP only)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vstage.billing import service
from vstage.billing.dependencies import BillingAccount, Gateway, close_gateway, get_gateway
from vstage.billing.schemas import CheckoutRequest, RedirectUrl, WebhookAck
from vstage.billing.webhooks import handle_event, verify_event
from vstage.dependencies import DatabaseDep, SettingsDep

router = APIRouter(prefix="/v1/billing", tags=["billing"], lifespan=close_gateway)


@router.post("/checkout", response_model=RedirectUrl)
async def checkout(
    body: CheckoutRequest,
    account: BillingAccount,
    db: DatabaseDep,
    settings: SettingsDep,
    gateway: Gateway,
) -> RedirectUrl:
    """Start a Stripe Checkout for a plan; send the browser to ``url``."""
    url = await service.start_checkout(db, gateway, settings, account, body.plan)
    return RedirectUrl(url=url)


@router.post("/portal", response_model=RedirectUrl)
async def portal(account: BillingAccount, settings: SettingsDep, gateway: Gateway) -> RedirectUrl:
    """Open the Stripe Customer Portal (change plan, cancel, card, invoices)."""
    return RedirectUrl(url=await service.open_portal(gateway, settings, account))


@router.post("/webhook", response_model=WebhookAck)
async def webhook(request: Request, db: DatabaseDep, settings: SettingsDep) -> WebhookAck:
    """Receive a Stripe event: verified, applied once, in any order."""
    event = verify_event(
        await request.body(),
        request.headers.get("stripe-signature"),
        settings.stripe_webhook_secret,
    )
    outcome = await handle_event(db, get_gateway(request, settings), event)
    return WebhookAck(outcome=outcome)
