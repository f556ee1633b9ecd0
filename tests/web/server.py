"""The real app served by uvicorn on a loopback port, in a background thread.

Browser tests need a real HTTP server (Chromium cannot talk to an ASGI transport). The
socket is bound before the settings are built so ``public_url`` (used for OIDC redirect
URIs and Stripe return URLs) names the actual port. The server thread runs its own event
loop, so the app, its database engine and its embedded worker live there, independent of
the test's loop.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from tests.fixtures.db import make_settings

from vstage.app import create_app
from vstage.config import Settings
from vstage.db import Database


@dataclass
class LiveApp:
    """A running server: its URL, its settings and a way into its database."""

    base_url: str
    settings: Settings
    _server: uvicorn.Server
    _thread: threading.Thread
    _dbs: list[Database] = field(default_factory=list)

    def database(self) -> Database:
        """A second connection pool on the same SQLite file, for seeding and checks."""
        db = Database(self.settings)
        self._dbs.append(db)
        return db

    def url(self, path: str) -> str:
        return self.base_url + path

    async def stop(self) -> None:
        for db in self._dbs:
            await db.dispose()
        self._server.should_exit = True
        self._thread.join(20)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def start_live_app(
    template_db: Path,
    tmp: Path,
    *,
    start_worker: bool,
    settings: Settings | None = None,
    **overrides: Any,
) -> LiveApp:
    """Copy the migrated SQLite template, build settings, serve, wait until it answers."""
    sock = _bound_socket()
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    db_path = tmp / "live.db"
    shutil.copy(template_db, db_path)
    values: dict[str, Any] = {
        "public_url": base_url,
        "embedded_worker": start_worker,
        "worker_poll_seconds": 0.2,
        "device": "cpu",
    }
    values.update(overrides)
    if settings is None:
        settings = make_settings(f"sqlite+aiosqlite:///{db_path}", tmp, **values)
    else:
        settings = settings.model_copy(
            update={
                "database_url": f"sqlite+aiosqlite:///{db_path}",
                "storage_url": f"file://{tmp / 'storage'}",
                **values,
            }
        )
    app = create_app(settings, start_worker=start_worker)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"live-app-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live app did not start (see the log above)")
        time.sleep(0.02)
    return LiveApp(base_url, settings, server, thread)
