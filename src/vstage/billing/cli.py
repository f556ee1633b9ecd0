from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this domain's verbs to the root CLI."""
