"""Billing use cases: checkout, portal, and re-syncing a user's subscriptions.

Each use case reads what it needs in a short transaction, calls Stripe with *no*
transaction open (so a slow Stripe never holds a row lock or a pooled connection),
then writes the outcome in another short transaction (DESIGN §6).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vstage.billing.entitlement import Entitlement, get_entitlement, is_entitled
from vstage.billing.stripe_client import StripeGateway, SubscriptionState
from vstage.billing.subscriptions import link_customer, store_subscription
from vstage.config import Settings
from vstage.db import Database
from vstage.errors import Conflict, InvalidInput
from vstage.models import Plan, Subscription, User, utcnow
from vstage.users.service import find_user

CHECKOUT_PATH = "/v1/billing/checkout"
PORTAL_PATH = "/v1/billing/portal"
ACCOUNT_PAGE = "/account"
# Not entitled, but still billed or revivable by Stripe: a second subscription would
# double-charge, so the portal (fix the card) is the way forward, not a new checkout.
UNSETTLED = frozenset({"past_due", "unpaid", "paused"})


@dataclass(frozen=True)
class Account:
    """The billing-relevant fields of a user, read in a transaction already closed."""

    user_id: uuid.UUID
    auth0_sub: str
    email: str | None
    stripe_customer_id: str | None

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(user.id, user.auth0_sub, user.email, user.stripe_customer_id)


async def _checkout_plan(db: Database, account: Account, code: str, settings: Settings) -> Plan:
    """The plan to buy; refuses unknown/unpriced plans and users already subscribed."""
    async with db.transaction() as session:
        plan = await session.scalar(select(Plan).where(Plan.code == code))
        if plan is None:
            raise InvalidInput(f"unknown plan {code!r}")
        if not plan.price_id:
            raise InvalidInput(f"plan {code!r} cannot be bought (it has no Stripe price)")
        now = utcnow()
        for sub in await session.scalars(
            select(Subscription).where(Subscription.user_id == account.user_id)
        ):
            if is_entitled(sub, now, settings.billing_grace_days) or sub.status in UNSETTLED:
                raise Conflict(
                    f"already subscribed (subscription {sub.status}); change, renew or cancel "
                    f"it in the billing portal: POST {PORTAL_PATH}",
                    portal_url=PORTAL_PATH,
                )
        return plan


async def ensure_customer(db: Database, gateway: StripeGateway, account: Account) -> str:
    """The user's Stripe customer, created once even under concurrent checkouts."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    created = await gateway.create_customer(
        user_id=str(account.user_id), auth0_sub=account.auth0_sub, email=account.email
    )
    async with db.transaction() as session:
        await link_customer(session, account.user_id, created)
        stored = await session.scalar(
            select(User.stripe_customer_id).where(User.id == account.user_id)
        )
    return stored or created


async def start_checkout(
    db: Database, gateway: StripeGateway, settings: Settings, account: Account, plan_code: str
) -> str:
    """URL of a Stripe Checkout page subscribing the user to ``plan_code``."""
    plan = await _checkout_plan(db, account, plan_code, settings)
    assert plan.price_id is not None
    customer_id = await ensure_customer(db, gateway, account)
    page = settings.public_url.rstrip("/") + ACCOUNT_PAGE
    return await gateway.create_checkout_session(
        customer_id=customer_id,
        price_id=plan.price_id,
        user_id=str(account.user_id),
        plan_code=plan.code,
        success_url=f"{page}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{page}?checkout=cancel",
    )


async def open_portal(gateway: StripeGateway, settings: Settings, account: Account) -> str:
    """URL of the Customer Portal; only for users who went through checkout once."""
    if not account.stripe_customer_id:
        raise Conflict(
            f"no billing account yet; subscribe first: POST {CHECKOUT_PATH}",
            checkout_url=CHECKOUT_PATH,
        )
    return await gateway.create_portal_session(
        customer_id=account.stripe_customer_id,
        return_url=settings.public_url.rstrip("/") + ACCOUNT_PAGE,
    )


@dataclass(frozen=True)
class SyncResult:
    account: Account
    subscriptions: list[SubscriptionState]
    entitlement: Entitlement


async def sync_user(
    db: Database, gateway: StripeGateway, settings: Settings, ref: str
) -> SyncResult:
    """Re-read all of a user's subscriptions from Stripe and write their state."""
    async with db.transaction() as session:
        account = Account.of(await find_user(session, ref))
        known = set(
            await session.scalars(
                select(Subscription.stripe_subscription_id).where(
                    Subscription.user_id == account.user_id
                )
            )
        )
    fetched_at = utcnow()
    states: list[SubscriptionState] = []
    if account.stripe_customer_id:
        states = await gateway.list_subscriptions(account.stripe_customer_id)
    for missing in sorted(known - {s.id for s in states}):
        state = await gateway.retrieve_subscription(missing)
        if state is not None:
            states.append(state)
    async with db.transaction() as session:
        for state in states:
            await store_subscription(
                session, state, fetched_at=fetched_at, user_hint=account.user_id
            )
        user = await session.get(User, account.user_id)
        assert user is not None
        ent = await get_entitlement(session, user, grace_days=settings.billing_grace_days)
    return SyncResult(account, states, ent)
