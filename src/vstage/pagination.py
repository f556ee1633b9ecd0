"""Keyset pagination: ``?limit=&cursor=`` over (created_at DESC, id DESC).

Cursors are opaque to clients; a tampered cursor is a 422, not a 500.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from vstage.errors import InvalidInput

T = TypeVar("T")
R = TypeVar("R")
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: tuple[datetime, uuid.UUID] | None


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, id_ = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), uuid.UUID(id_)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("invalid cursor") from exc


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]


def paginate(
    stmt: Select[Any],
    page: PageParams,
    created_at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[uuid.UUID],
) -> Select[Any]:
    """Order newest first and fetch one extra row to know whether a next page exists."""
    if page.cursor is not None:
        at, last_id = page.cursor
        stmt = stmt.where(or_(created_at < at, and_(created_at == at, id_ < last_id)))
    return stmt.order_by(created_at.desc(), id_.desc()).limit(page.limit + 1)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class _Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


def page_of(
    rows: Sequence[R],
    page: PageParams,
    to_item: Callable[[R], T],
    key: Callable[[R], _Keyed] | None = None,
) -> Page[T]:
    """Turn the ``limit + 1`` rows :func:`paginate` fetched into a page and its cursor.

    ``key`` picks the row's keyed object when rows are tuples (e.g. ``(attempt, kind)``).
    """
    shown = list(rows[: page.limit])
    cursor = None
    if len(rows) > page.limit and shown:
        last: Any = key(shown[-1]) if key else shown[-1]
        cursor = encode_cursor(last.created_at, last.id)
    return Page(items=[to_item(row) for row in shown], next_cursor=cursor)
