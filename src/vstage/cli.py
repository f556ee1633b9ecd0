"""The ``vstage`` command line. Domain packages register their own verbs here.

Every failure a user can cause (bad configuration, unreachable database, bad input)
ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.exc import DBAPIError, OperationalError

from vstage.config import Settings, get_settings
from vstage.db import Database
from vstage.errors import ConfigError, VstageError

T = TypeVar("T")

app = typer.Typer(
    name="vstage",
    help="Self-hostable AI virtual staging.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def run_with_db(settings: Settings, fn: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``fn`` against a fresh :class:`Database`, disposing it afterwards."""

    async def runner() -> T:
        db = Database(settings)
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return asyncio.run(runner())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Run the API and web UI (and, in embedded mode, an in-process worker)."""
    import uvicorn

    from vstage.app import create_app
    from vstage.migrate import upgrade
    from vstage.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    if settings.embedded:
        run_with_db(settings, lambda db: upgrade(db.engine))
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


@app.command()
def migrate() -> None:
    """Apply database migrations up to the newest revision."""
    from vstage.migrate import upgrade

    run_with_db(get_settings(), lambda db: upgrade(db.engine))
    typer.echo("database is up to date")


def _register_domains() -> None:
    from vstage.billing.cli import register as register_billing
    from vstage.plans.cli import register as register_plans
    from vstage.queue.cli import register as register_queue
    from vstage.staging.cli import register as register_staging
    from vstage.users.cli import register as register_users

    for register in (
        register_plans,
        register_users,
        register_queue,
        register_staging,
        register_billing,
    ):
        register(app)


_register_domains()


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(exc.message, err=True)
        sys.exit(2)
    except VstageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        typer.echo(f"error: cannot reach the database ({reason})", err=True)
        sys.exit(1)
