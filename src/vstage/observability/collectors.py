"""Gauges computed from the database at scrape time (queue depth, oldest job age)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy import func, select

from vstage.db import Database
from vstage.models import Job, utcnow

QUEUE_DEPTH = Gauge("vstage_queue_jobs", "Jobs by status and type", ["status", "type"])
OLDEST_QUEUED = Gauge("vstage_queue_oldest_queued_seconds", "Age of the oldest queued job")


async def refresh_queue_gauges(db: Database) -> None:
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Job.status, Job.type, func.count()).group_by(Job.status, Job.type)
            )
        ).all()
        oldest: datetime | None = await session.scalar(
            select(func.min(Job.created_at)).where(Job.status == "queued")
        )
    QUEUE_DEPTH.clear()
    for status, type_, count in rows:
        QUEUE_DEPTH.labels(status, type_).set(count)
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    OLDEST_QUEUED.set((utcnow() - oldest).total_seconds() if oldest else 0)
