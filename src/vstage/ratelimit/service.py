"""Per-user rate limits: a sliding-window estimate over one-minute counters in the DB.

Why the database: API replicas are stateless (DESIGN §2), so a counter in process
memory would let a client multiply its allowance by the number of replicas. Each
attempt is one conditional upsert on ``rate_limit_counters``; the row lock it takes
serialises concurrent attempts of one user, so the limit holds exactly.

Why a sliding-window *estimate*: a plain fixed window lets a client send twice the
limit across a window boundary. Weighting the previous window's count by how much of
it still overlaps the last 60 s (the approach Cloudflare describes) smooths that out
with two rows per user and action instead of a row per request.

Rejected attempts are not counted, so a client that backs off for ``Retry-After``
seconds is served again; hammering does not extend the penalty.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import RateLimited
from vstage.models import RateLimitCounter, utcnow

UPLOADS = "upload"


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = window.total_seconds()
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


async def hit(
    session: AsyncSession,
    user_id: uuid.UUID,
    action: str,
    *,
    limit: int,
    window: timedelta = timedelta(minutes=1),
    now: datetime | None = None,
) -> None:
    """Count one ``action`` by ``user_id``, or raise :class:`RateLimited` (429).

    Call it in a short transaction of its own that commits at once, so concurrent
    requests (on any replica) see the count.
    """
    now = now or utcnow()
    start = _window_start(now, window)
    previous_start = start - window
    elapsed = (now - start) / window  # 0 ≤ elapsed < 1
    previous = (
        await session.scalar(
            select(RateLimitCounter.count).where(
                RateLimitCounter.user_id == user_id,
                RateLimitCounter.action == action,
                RateLimitCounter.window_start == previous_start,
            )
        )
        or 0
    )
    carried = previous * (1.0 - elapsed)
    allowed_now = math.floor(limit - carried + 1e-9)  # how many this window may hold
    counted = None
    if allowed_now >= 1:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        upsert = (
            insert(RateLimitCounter)
            .values(user_id=user_id, action=action, window_start=start, count=1)
            .on_conflict_do_update(
                index_elements=["user_id", "action", "window_start"],
                set_={"count": RateLimitCounter.count + 1},
                where=RateLimitCounter.count < allowed_now,
            )
            .returning(RateLimitCounter.count)
        )
        counted = (await session.execute(upsert)).scalar_one_or_none()
    if counted is None:
        current = (
            await session.scalar(
                select(RateLimitCounter.count).where(
                    RateLimitCounter.user_id == user_id,
                    RateLimitCounter.action == action,
                    RateLimitCounter.window_start == start,
                )
            )
            or 0
        )
        retry_after = _retry_after(now, start, window, previous, current, limit)
        raise RateLimited(
            f"too many requests: at most {limit} per {int(window.total_seconds())} s; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
            limit=limit,
        )
    if elapsed < 0.5 and counted == 1:
        # First hit of a window: forget windows that can no longer matter.
        await session.execute(
            delete(RateLimitCounter).where(
                RateLimitCounter.user_id == user_id,
                RateLimitCounter.action == action,
                RateLimitCounter.window_start < previous_start,
            )
        )


def _retry_after(
    now: datetime,
    start: datetime,
    window: timedelta,
    previous: int,
    current: int,
    limit: int,
) -> int:
    """Seconds until one more attempt fits under the estimate (at least 1)."""
    if current + 1 > limit or previous == 0:
        # Not before this window closes (then ``current`` becomes the decaying part).
        wait = (start + window - now).total_seconds()
        if current + 1 > limit and current > 0:
            # Next window: current * (1 - e) + 1 ≤ limit  ⇔  e ≥ 1 - (limit - 1) / current
            wait += max(0.0, 1.0 - (limit - 1) / current) * window.total_seconds()
    else:
        # This window: previous * (1 - e) + current + 1 ≤ limit
        needed = 1.0 - (limit - current - 1) / previous
        wait = (start + needed * window - now).total_seconds()
    return max(1, math.ceil(wait))
