"""One clock for queue timestamps.

On PostgreSQL the queue uses the *database* clock: producers and workers run on many
machines, and comparing a ``run_after`` written by one host's clock with another host's
clock would delay or reorder jobs by their skew. It is ``statement_timestamp()``, not
``now()``: ``now()`` is frozen at the start of the transaction, which would make a job
enqueued "now" by a long upload request look due earlier than it was committed, and a
claim compare against a stale time. On SQLite there is one process, so its clock is the
database's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Interval, func, literal
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from vstage.models import UTCDateTime, utcnow

#: Where queue statements run: a session (in a transaction) or a bare connection.
Bind = AsyncSession | AsyncConnection


def dialect_of(bind: Bind) -> str:
    if isinstance(bind, AsyncConnection):
        return bind.dialect.name
    return bind.get_bind().dialect.name


def db_now(bind: Bind, offset: timedelta | None = None) -> ColumnElement[datetime]:
    """``statement_timestamp() [+ offset]`` on PostgreSQL; the process UTC time on SQLite."""
    if dialect_of(bind) == "postgresql":
        now: ColumnElement[datetime] = func.statement_timestamp(type_=UTCDateTime())
        return now + literal(offset, type_=Interval()) if offset else now
    return literal(utcnow() + (offset or timedelta()), type_=UTCDateTime())
