"""Check a ``vstage`` command line against the real CLI without running it.

Deployment files and docs name ``vstage`` commands (``worker --concurrency 1``,
``models pull``, ``plans set pro --price-id …``). This walks the Typer app's command
tree to the named subcommand and lets it parse the remaining arguments, so a renamed
verb or option fails here instead of in a container at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from vstage.cli import app


class BadCommandLine(Exception):
    """The arguments name no ``vstage`` command, or the command rejects them."""


def check_vstage_args(argv: Sequence[str]) -> str:
    """Parse ``vstage <argv>`` as the CLI would; return the command path (``"plans set"``).

    Raises :class:`BadCommandLine` when the subcommand does not exist or an option or
    argument does not parse. Nothing is run.
    """
    args = list(argv)
    path: list[str] = []
    command = typer.main.get_command(app)
    context = typer.Context(command, info_name="vstage")
    while isinstance(command, TyperGroup):
        if not args:
            raise BadCommandLine(f"`vstage {' '.join(path)}` needs a subcommand")
        name = args.pop(0)
        sub = command.get_command(context, name)
        if sub is None:
            raise BadCommandLine(f"no such command: vstage {' '.join([*path, name])}")
        path.append(name)
        command = sub
        context = typer.Context(command, info_name=name, parent=context)
    try:
        # Parses and validates options and arguments; does not invoke the command.
        command.make_context(" ".join(["vstage", *path]), args, parent=context.parent)
    except TyperException as exc:
        raise BadCommandLine(f"vstage {' '.join(path)}: {exc.format_message()}") from None
    return " ".join(path)
