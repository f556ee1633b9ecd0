"""``vstage worker`` and ``vstage rescue``."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated

import typer

from vstage.config import Settings, get_settings

log = logging.getLogger("vstage.worker")


def fail_cli(message: str) -> typer.Exit:
    from vstage.cli import fail

    return fail(f"error: {message}")


def _split_types(types: str | None) -> list[str] | None:
    if types is None:
        return None
    names = [t.strip() for t in types.split(",") if t.strip()]
    if not names:
        raise fail_cli("--types needs at least one job type, e.g. --types stage_image,declutter")
    return names


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Jobs run at once (default VSTAGE_WORKER_CONCURRENCY).",
        ),
    ] = None,
    types: Annotated[
        str | None,
        typer.Option("--types", help="Only these job types, comma-separated (default: all)."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Most jobs claimed per query.")
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option("--grace", min=0, help="Seconds running jobs get to finish on SIGTERM."),
    ] = None,
    handlers_module: Annotated[
        list[str] | None,
        typer.Option("--handlers-module", help="Import this module to register extra handlers."),
    ] = None,
    burst: Annotated[
        bool, typer.Option("--burst", help="Exit once no job is runnable instead of waiting.")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run a worker: claim jobs and run them until SIGTERM/SIGINT.

    On SIGTERM it stops claiming, lets running jobs finish within the grace period,
    releases the rest back to the queue (not counted as an attempt) and exits 0.
    """
    from vstage.observability.logging import configure_logging
    from vstage.queue.registry import load_builtin_handlers, load_handler_modules

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    load_builtin_handlers()
    load_handler_modules(handlers_module or [])
    type_list = _split_types(types)
    if type_list is not None:
        from vstage.queue.registry import default_registry

        unknown = sorted(set(type_list) - set(default_registry.types()))
        if unknown:
            raise fail_cli(
                f"no handler for job type(s) {', '.join(unknown)}; "
                f"known: {', '.join(default_registry.types()) or 'none'}"
            )
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    asyncio.run(
        _run_worker(
            settings,
            concurrency=concurrency,
            types=type_list,
            batch_size=batch_size,
            grace=grace,
            burst=burst,
        )
    )


async def _run_worker(
    settings: Settings,
    *,
    concurrency: int | None,
    types: list[str] | None,
    batch_size: int | None,
    grace: float | None,
    burst: bool,
) -> None:
    from vstage.db import Database
    from vstage.queue.worker import Worker
    from vstage.storage import make_storage

    db = Database(settings)
    storage = make_storage(settings)
    try:
        worker = Worker(
            db,
            storage,
            settings,
            concurrency=concurrency,
            types=types,
            batch_size=batch_size,
            grace_seconds=grace,
            burst=burst,
        )
        worker.install_signal_handlers()
        await worker.run()
        leftover_threads = worker.threads_running
    finally:
        await storage.close()
        await db.dispose()
    if leftover_threads:
        # Their jobs are already back in the queue; a thread cannot be interrupted and
        # the interpreter would wait for it at exit, so leave without waiting.
        log.warning("exiting with %d handler thread(s) still running", leftover_threads)
        logging.shutdown()
        os._exit(0)


def rescue() -> None:
    """Requeue (or fail, when out of attempts) jobs whose worker stopped heartbeating."""
    from vstage.cli import run_with_db
    from vstage.db import Database
    from vstage.queue.rescue import rescue_once
    from vstage.usage.service import refund

    settings = get_settings()

    async def run(db: Database) -> tuple[int, int]:
        report = await rescue_once(db, settings, refund)
        return len(report.requeued), len(report.failed)

    requeued, failed = run_with_db(settings, run)
    typer.echo(f"requeued {requeued} job(s), failed {failed} job(s)")


def register(app: typer.Typer) -> None:
    """Adds this domain's verbs to the root CLI."""
    app.command("worker")(worker)
    app.command("rescue")(rescue)
