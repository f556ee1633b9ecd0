"""Queue benchmark: vstage's jobs table against procrastinate, same PostgreSQL, same run.

1. Throughput: enqueue N no-op jobs, then drain them with W worker processes (each with
   the same number of concurrent job slots) and time from "go" to the last completion.
2. Pick-up latency: with W idle workers listening, enqueue jobs one at a time at a fixed
   rate, each in its own committed transaction, and measure from the moment the commit
   returned to the moment the handler started (one machine, one monotonic clock).

Each system gets a fresh database on the server (``--dsn``, default the local one),
dropped at the end. Prints a table, then as its last line one JSON object.

    .venv/bin/python -m benchmarks.queue            # 10,000 jobs, 4 workers
    .venv/bin/python -m benchmarks.queue --quick    # 2,000 jobs, 200 pick-ups

Both systems get the same worker processes and the same number of job slots per process
(``--concurrency``, default 16); the tables are ``ANALYZE``d after the bulk enqueue.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script (``python benchmarks/queue.py``), this file's folder comes first on
# sys.path and its name would hide the standard library's ``queue`` (which asyncio and
# multiprocessing import); ``python -m benchmarks.queue`` needs no such care.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable, Coroutine  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from multiprocessing.queues import Queue as MPQueue  # noqa: E402
from multiprocessing.synchronize import Event as MPEvent  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
from pydantic import BaseModel  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROCRASTINATE_TASK = "bench_noop"


# ---------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Config:
    jobs: int
    workers: int
    concurrency: int
    pickup_jobs: int
    pickup_rate: float


def create_database(admin_dsn: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyze(dsn: str) -> None:
    """Fresh statistics after the bulk enqueue, for both systems alike (autovacuum would
    get there within a minute; the benchmark should not depend on when)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")


def dsn_for(admin_dsn: str, name: str) -> str:
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def quiet_logs() -> None:
    """Warnings and errors only; procrastinate warns about an app defined in ``__main__``."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("procrastinate").setLevel(logging.ERROR)


async def wait_for_event(event: MPEvent) -> None:
    """Wait for a cross-process event without blocking the event loop."""
    await asyncio.to_thread(event.wait)


# ---------------------------------------------------------------------------- vstage


class Empty(BaseModel):
    pass


def _vstage_settings(dsn: str, concurrency: int) -> Any:
    from vstage.config import Settings

    return Settings(
        database_url=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        database_pool_size=concurrency + 4,
        storage_url="file:///tmp/vstage-bench-storage",
        auth_mode="dev",
        allow_dev_auth=True,
        secret_key="bench",
        log_level="WARNING",
    )


def _vstage_registry(started: list[tuple[str, float]] | None) -> Any:
    from vstage.queue import HandlerRegistry, JobContext

    registry = HandlerRegistry()

    async def noop(ctx: JobContext, payload: Empty) -> None:
        if started is not None:
            started.append((str(ctx.job.id), time.monotonic()))

    registry.register("bench.noop", Empty, noop)
    return registry


def vstage_worker_main(
    dsn: str, concurrency: int, burst: bool, ready: MPQueue[Any], go: MPEvent, done: MPQueue[Any]
) -> None:
    """One worker process: burst mode drains and exits; otherwise runs until ``go`` is cleared."""
    quiet_logs()
    from vstage.db import Database
    from vstage.queue import Worker
    from vstage.queue.listen import JobNotifications
    from vstage.storage import make_storage

    async def main() -> None:
        settings = _vstage_settings(dsn, concurrency)
        db = Database(settings)
        async with db.engine.connect():  # warm one pooled connection before the clock starts
            pass
        notifications = JobNotifications(settings.database_url)
        await notifications.start()
        started: list[tuple[str, float]] = []
        worker = Worker(
            db,
            make_storage(settings),
            settings,
            registry=_vstage_registry(None if burst else started),
            concurrency=concurrency,
            burst=burst,
            rescue=False,
            notifications=notifications,
        )
        if burst:
            ready.put(os.getpid())
            await wait_for_event(go)
            await worker.run()
            done.put((time.monotonic(), worker.processed))
        else:
            task = asyncio.create_task(worker.run())
            await asyncio.sleep(0.3)  # idle and listening
            ready.put(os.getpid())
            await wait_for_event(go)
            worker.stop(grace_seconds=1)
            await task
            done.put(started)
        await notifications.close()
        await db.dispose()

    asyncio.run(main())


async def vstage_enqueue_bulk(dsn: str, count: int) -> None:
    from vstage.db import Database
    from vstage.queue import enqueue

    db = Database(_vstage_settings(dsn, 1))
    try:
        for start in range(0, count, 1000):
            async with db.transaction() as session:
                for _ in range(min(1000, count - start)):
                    await enqueue(
                        session, type="bench.noop", payload={}, image_id=None, max_attempts=3
                    )
    finally:
        await db.dispose()


async def vstage_completed(dsn: str) -> int:
    conn = await psycopg.AsyncConnection.connect(dsn)
    async with conn:
        cur = await conn.execute("SELECT count(*) FROM jobs WHERE status = 'completed'")
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def vstage_prepare(dsn: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from vstage.migrate import upgrade

    engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    await upgrade(engine)
    await engine.dispose()


async def paced(cfg: Config, one: Callable[[], Awaitable[str]]) -> dict[str, float]:
    """Enqueue ``cfg.pickup_jobs`` jobs at ``cfg.pickup_rate``; job id → commit time."""
    committed: dict[str, float] = {}
    interval = 1.0 / cfg.pickup_rate
    next_at = time.monotonic()
    for _ in range(cfg.pickup_jobs):
        next_at += interval
        job_id = await one()
        committed[job_id] = time.monotonic()  # the commit has returned
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.sleep(0.5)  # let the last ones start
    return committed


async def vstage_produce(dsn: str, cfg: Config) -> dict[str, float]:
    from vstage.db import Database
    from vstage.queue import enqueue

    db = Database(_vstage_settings(dsn, 1))

    async def one() -> str:
        async with db.transaction() as session:
            job = await enqueue(
                session, type="bench.noop", payload={}, image_id=None, max_attempts=3
            )
        return str(job.id)

    try:
        return await paced(cfg, one)
    finally:
        await db.dispose()


# ---------------------------------------------------------------------------- procrastinate


def procrastinate_app(dsn: str, started: list[tuple[str, float]] | None = None) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name=PROCRASTINATE_TASK, pass_context=True)
    async def bench_noop(context: Any) -> None:
        if started is not None:
            started.append((str(context.job.id), time.monotonic()))

    return app


def procrastinate_worker_main(
    dsn: str, concurrency: int, burst: bool, ready: MPQueue[Any], go: MPEvent, done: MPQueue[Any]
) -> None:
    quiet_logs()

    async def main() -> None:
        started: list[tuple[str, float]] = []
        app = procrastinate_app(dsn, None if burst else started)
        async with app.open_async():
            if burst:
                ready.put(os.getpid())
                await wait_for_event(go)
                await app.run_worker_async(
                    concurrency=concurrency, wait=False, install_signal_handlers=False
                )
                done.put((time.monotonic(), 0))
            else:
                task = asyncio.create_task(
                    app.run_worker_async(
                        concurrency=concurrency,
                        wait=True,
                        install_signal_handlers=False,
                        listen_notify=True,
                    )
                )
                await asyncio.sleep(0.5)  # idle and listening
                ready.put(os.getpid())
                await wait_for_event(go)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                done.put(started)

    asyncio.run(main())


async def procrastinate_prepare(dsn: str) -> None:
    app = procrastinate_app(dsn)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def procrastinate_enqueue_bulk(dsn: str, count: int) -> None:
    app = procrastinate_app(dsn)
    async with app.open_async():
        task = app.tasks[PROCRASTINATE_TASK]
        for start in range(0, count, 1000):
            await task.batch_defer_async(*[{} for _ in range(min(1000, count - start))])


async def procrastinate_produce(dsn: str, cfg: Config) -> dict[str, float]:
    app = procrastinate_app(dsn)
    async with app.open_async():
        task = app.tasks[PROCRASTINATE_TASK]

        async def one() -> str:
            return str(await task.defer_async())

        return await paced(cfg, one)


async def procrastinate_completed(dsn: str) -> int:
    conn = await psycopg.AsyncConnection.connect(dsn)
    async with conn:
        cur = await conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------------- runs


WorkerMain = Callable[[str, int, bool, Any, Any, Any], None]


def start_workers(
    target: WorkerMain, dsn: str, cfg: Config, burst: bool
) -> tuple[list[Any], Any, MPEvent, Any]:
    ctx = mp.get_context("spawn")
    ready: Any = ctx.Queue()
    done: Any = ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(target=target, args=(dsn, cfg.concurrency, burst, ready, go, done))
        for _ in range(cfg.workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=60)
    return procs, done, go, ready


def throughput(
    target: WorkerMain, dsn: str, cfg: Config, completed: Callable[[str], Coroutine[Any, Any, int]]
) -> float:
    procs, done, go, _ = start_workers(target, dsn, cfg, burst=True)
    t0 = time.monotonic()
    go.set()
    ends: list[float] = [done.get(timeout=600)[0] for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    finished = asyncio.run(completed(dsn))
    if finished != cfg.jobs:
        raise SystemExit(f"{target.__name__}: only {finished} of {cfg.jobs} jobs completed")
    return cfg.jobs / (max(ends) - t0)


def pickup(
    target: WorkerMain,
    dsn: str,
    cfg: Config,
    produce: Callable[[str, Config], Coroutine[Any, Any, dict[str, float]]],
) -> list[float]:
    procs, done, go, _ = start_workers(target, dsn, cfg, burst=False)
    committed = asyncio.run(produce(dsn, cfg))
    go.set()
    started: dict[str, float] = {}
    for _ in procs:
        started.update(dict(done.get(timeout=60)))
    for proc in procs:
        proc.join(timeout=30)
    missing = set(committed) - set(started)
    if missing:
        raise SystemExit(f"{len(missing)} pick-up jobs never started")
    return [(started[j] - committed[j]) * 1000 for j in committed]


def run(cfg: Config, admin_dsn: str) -> dict[str, Any]:
    names: list[str] = []
    try:
        v_name = create_database(admin_dsn, "vstage_bench")
        names.append(v_name)
        p_name = create_database(admin_dsn, "procrastinate_bench")
        names.append(p_name)
        v_dsn, p_dsn = dsn_for(admin_dsn, v_name), dsn_for(admin_dsn, p_name)
        asyncio.run(vstage_prepare(v_dsn))
        asyncio.run(procrastinate_prepare(p_dsn))

        asyncio.run(vstage_enqueue_bulk(v_dsn, cfg.jobs))
        analyze(v_dsn)
        v_rate = throughput(vstage_worker_main, v_dsn, cfg, vstage_completed)
        asyncio.run(procrastinate_enqueue_bulk(p_dsn, cfg.jobs))
        analyze(p_dsn)
        p_rate = throughput(procrastinate_worker_main, p_dsn, cfg, procrastinate_completed)
        v_lat = pickup(vstage_worker_main, v_dsn, cfg, vstage_produce)
        p_lat = pickup(procrastinate_worker_main, p_dsn, cfg, procrastinate_produce)
    finally:
        for name in names:
            drop_database(admin_dsn, name)

    return {
        "bench": "queue",
        "jobs": cfg.jobs,
        "workers": cfg.workers,
        "vstage_jobs_per_s": round(v_rate, 1),
        "peer_jobs_per_s": round(p_rate, 1),
        "ratio": round(v_rate / p_rate, 2),
        "vstage_pickup_p50_ms": round(statistics.median(v_lat), 2),
        "vstage_pickup_p99_ms": round(percentile(v_lat, 0.99), 2),
        "peer_pickup_p50_ms": round(statistics.median(p_lat), 2),
        "peer_pickup_p99_ms": round(percentile(p_lat, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 jobs, 200 pick-ups")
    parser.add_argument("--jobs", type=int, help="jobs to drain (default 10,000)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="job slots per worker process, both systems"
    )
    parser.add_argument("--pickup-jobs", type=int, help="latency samples (default 500)")
    parser.add_argument("--pickup-rate", type=float, default=50.0, help="latency jobs per second")
    parser.add_argument("--dsn", default=os.environ.get("BENCH_PG_DSN", ADMIN_DSN))
    args = parser.parse_args()
    quiet_logs()
    cfg = Config(
        jobs=args.jobs or (2_000 if args.quick else 10_000),
        workers=args.workers,
        concurrency=args.concurrency,
        pickup_jobs=args.pickup_jobs or (200 if args.quick else 500),
        pickup_rate=args.pickup_rate,
    )
    result = run(cfg, args.dsn)
    print(
        f"queue benchmark: {cfg.jobs} no-op jobs, {cfg.workers} worker processes x "
        f"{cfg.concurrency} slots; pick-up: {cfg.pickup_jobs} jobs at {cfg.pickup_rate:g}/s; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'system':<15}{'jobs/s':>10}{'pick-up p50 ms':>16}{'pick-up p99 ms':>16}")
    print(
        f"{'vstage':<15}{result['vstage_jobs_per_s']:>10.1f}"
        f"{result['vstage_pickup_p50_ms']:>16.2f}{result['vstage_pickup_p99_ms']:>16.2f}"
    )
    print(
        f"{'procrastinate':<15}{result['peer_jobs_per_s']:>10.1f}"
        f"{result['peer_pickup_p50_ms']:>16.2f}{result['peer_pickup_p99_ms']:>16.2f}"
    )
    print(f"ratio (vstage / procrastinate): {result['ratio']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
