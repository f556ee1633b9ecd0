"""Billing dependencies: the caller's account without a held transaction, and Stripe.

Billing endpoints call Stripe, so they must not sit inside the request transaction
that ``CurrentUser`` opens (it would hold a pooled connection, and for a brand-new user
the lock on the row just inserted, for the whole Stripe round trip). The caller comes
from ``CommittedUser`` instead: looked up in a short transaction already committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from vstage.auth.dependencies import CommittedUser
from vstage.billing.service import Account
from vstage.billing.stripe_client import StripeGateway
from vstage.dependencies import SettingsDep

GATEWAY_STATE = "stripe_gateway"


def get_account(user: CommittedUser) -> Account:
    return Account.of(user)


def get_gateway(request: Request, settings: SettingsDep) -> StripeGateway:
    """The app's Stripe client, built on first use (503 when Stripe is not configured)."""
    gateway: StripeGateway | None = getattr(request.app.state, GATEWAY_STATE, None)
    if gateway is None:
        gateway = StripeGateway.from_settings(settings)
        setattr(request.app.state, GATEWAY_STATE, gateway)
    return gateway


@asynccontextmanager
async def close_gateway(app: FastAPI) -> AsyncIterator[None]:
    """Router lifespan: close the Stripe client's connections when the app stops."""
    try:
        yield
    finally:
        gateway: StripeGateway | None = getattr(app.state, GATEWAY_STATE, None)
        if gateway is not None:
            setattr(app.state, GATEWAY_STATE, None)
            await gateway.close()


BillingAccount = Annotated[Account, Depends(get_account)]
Gateway = Annotated[StripeGateway, Depends(get_gateway)]
