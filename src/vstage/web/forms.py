"""Validating web form input with the API's own pydantic schemas.

Using the same schemas keeps one definition of what a valid name (or seed, or style) is;
the web UI only turns validation errors into a sentence to show beside the field.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_form(model: type[M], **values: object) -> tuple[M | None, str | None]:
    """``(model, None)`` when valid, ``(None, "a readable reason")`` otherwise."""
    try:
        return model.model_validate(values), None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "input"
        message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
        return None, f"{field.replace('_', ' ').capitalize()}: {message}"
