from __future__ import annotations

from typing import Annotated

import typer

from vstage.auth.service import get_or_create_user
from vstage.config import get_settings
from vstage.db import Database
from vstage.users import service

users_app = typer.Typer(help="Manage users.", no_args_is_help=True)


@users_app.command("set-role")
def set_role(
    sub: Annotated[str, typer.Argument(help="The user's Auth0 subject (created if new).")],
    role: Annotated[str, typer.Argument(help="user or admin")],
) -> None:
    """Give a user a role; a running server sees it at the next request."""
    from vstage.cli import run_with_db

    async def run(db: Database) -> str:
        async with db.transaction() as session:
            user = await get_or_create_user(session, sub)
            await service.set_role(session, user, role)
            return f"{user.auth0_sub}\t{user.id}\t{user.role}"

    typer.echo(run_with_db(get_settings(), run))


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
