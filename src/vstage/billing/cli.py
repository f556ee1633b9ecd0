"""``vstage billing sync USER``: repair a user's plan from Stripe's own records.

For operators when a webhook was lost or the endpoint was down: it lists the user's
subscriptions from the Stripe API and writes their current state, exactly as the
webhook handlers would.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vstage.billing.service import SyncResult, sync_user
from vstage.billing.stripe_client import StripeGateway
from vstage.config import get_settings
from vstage.db import Database

billing_app = typer.Typer(help="Stripe billing.", no_args_is_help=True)


def _lines(result: SyncResult) -> list[str]:
    account, ent = result.account, result.entitlement
    lines = [
        f"{s.id}\t{s.status}\tprice={s.price_id or '-'}\t"
        f"cancel_at_period_end={str(s.cancel_at_period_end).lower()}"
        for s in result.subscriptions
    ]
    if not result.subscriptions:
        lines.append(
            "no subscriptions in Stripe"
            if account.stripe_customer_id
            else "no Stripe customer; nothing to sync"
        )
    lines.append(
        f"{account.auth0_sub}\t{account.user_id}\tcustomer={account.stripe_customer_id or '-'}"
        f"\tplan={ent.plan_code}\tlimit={ent.monthly_limit}"
    )
    return lines


@billing_app.command("sync")
def sync(
    user: Annotated[str, typer.Argument(help="The user's Auth0 subject or user id.")],
) -> None:
    """Re-read a user's subscriptions from Stripe and store their current state."""
    from vstage.cli import run_with_db

    settings = get_settings()

    async def run(db: Database) -> SyncResult:
        gateway = StripeGateway.from_settings(settings)
        try:
            return await sync_user(db, gateway, settings, user)
        finally:
            await gateway.close()

    for line in _lines(run_with_db(settings, run)):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Adds this domain's verbs to the root CLI."""
    app.add_typer(billing_app, name="billing")
