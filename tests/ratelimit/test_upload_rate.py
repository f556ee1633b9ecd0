"""Upload rate limit per user (``VSTAGE_UPLOAD_RATE_PER_MINUTE``): 429 with ``Retry-After``,
counted in the database so every API replica enforces the same budget."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user
from tests.fixtures.app import dev_auth
from tests.images.api import new_project, set_free_limit, upload
from vstage.app import create_app
from vstage.db import Database
from vstage.errors import RateLimited
from vstage.ratelimit.service import hit

Replica = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def replica(pg_db: Database) -> Replica:
    """``replica(sub)``: a client on a fresh app instance (an API replica) limited to 2
    uploads a minute, sharing the test's database."""

    @asynccontextmanager
    async def start(sub: str) -> AsyncIterator[httpx.AsyncClient]:
        settings = pg_db.settings.model_copy(update={"upload_rate_per_minute": 2})
        app = create_app(settings, database=pg_db, start_worker=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test",
                headers=dev_auth(sub),
            ) as client,
        ):
            yield client

    return start


async def test_third_upload_in_a_minute_is_429_with_retry_after(
    replica: Replica, pg_db: Database
) -> None:
    await set_free_limit(pg_db, 10)
    async with replica("alice") as client:
        project_id = await new_project(client)
        assert (await upload(client, project_id)).status_code == 202
        assert (await upload(client, project_id)).status_code == 202
        refused = await upload(client, project_id)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 120
        async with replica("bob") as bob:
            bobs = await new_project(bob)
            assert (await upload(bob, bobs)).status_code == 202, "limits are per user"


async def test_the_limit_holds_across_replicas(replica: Replica, pg_db: Database) -> None:
    await set_free_limit(pg_db, 10)
    async with replica("alice") as one, replica("alice") as two:
        project_id = await new_project(one)
        assert (await upload(one, project_id)).status_code == 202
        assert (await upload(two, project_id)).status_code == 202
        assert (await upload(one, project_id)).status_code == 429
        assert (await upload(two, project_id)).status_code == 429


START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_previous_minute_counts_in_proportion_to_its_overlap(session: AsyncSession) -> None:
    user = await make_user(session)
    for second in range(10):
        await hit(session, user.id, "test", limit=10, now=START + timedelta(seconds=second))
    with pytest.raises(RateLimited):
        await hit(session, user.id, "test", limit=10, now=START + timedelta(seconds=59))
    # 30 s into the next minute, half of the previous 10 still count: 5 more fit.
    half = START + timedelta(seconds=90)
    for _ in range(5):
        await hit(session, user.id, "test", limit=10, now=half)
    with pytest.raises(RateLimited) as refused:
        await hit(session, user.id, "test", limit=10, now=half)
    assert refused.value.extra["retry_after"] == 6, "at 96 s, 10 x 0.4 + 5 + 1 = 10 fits"
    await hit(session, user.id, "test", limit=10, now=START + timedelta(seconds=96))


async def test_refused_attempts_are_not_counted(session: AsyncSession) -> None:
    user = await make_user(session)
    await hit(session, user.id, "test", limit=1, now=START)
    for second in range(1, 30):
        with pytest.raises(RateLimited):
            await hit(session, user.id, "test", limit=1, now=START + timedelta(seconds=second))
    # Two minutes later nothing of the first minute is left: one fits again.
    await hit(session, user.id, "test", limit=1, now=START + timedelta(seconds=120))
