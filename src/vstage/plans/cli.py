from __future__ import annotations

from typing import Annotated

import typer

from vstage.config import get_settings
from vstage.db import Database
from vstage.models import Plan
from vstage.plans import service

plans_app = typer.Typer(help="Show and edit plans.", no_args_is_help=True)


def _line(plan: Plan) -> str:
    return f"{plan.code}\tlimit={plan.monthly_limit}\tprice_id={plan.price_id or '-'}"


@plans_app.command("list")
def list_plans() -> None:
    """List plans with their monthly limits and Stripe prices."""
    from vstage.cli import run_with_db

    async def run(db: Database) -> list[str]:
        async with db.transaction() as session:
            return [_line(p) for p in await service.list_plans(session)]

    for line in run_with_db(get_settings(), run):
        typer.echo(line)


@plans_app.command("set")
def set_plan(
    code: Annotated[str, typer.Argument(help="Plan code, e.g. free or pro.")],
    price_id: Annotated[str | None, typer.Option("--price-id", help="Stripe price id.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Images per month.")] = None,
) -> None:
    """Create or update a plan (effective on running servers immediately)."""
    from vstage.cli import run_with_db

    async def run(db: Database) -> str:
        async with db.transaction() as session:
            return _line(await service.set_plan(session, code, price_id=price_id, limit=limit))

    typer.echo(run_with_db(get_settings(), run))


def register(app: typer.Typer) -> None:
    app.add_typer(plans_app, name="plans")
