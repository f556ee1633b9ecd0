"""REST API benchmark (issue 6): the cost of the full stack, and the upload path.

One uvicorn process on loopback serves two things from one connection pool:

- the real app: ``GET /v1/images/{id}`` through everything a request passes (middleware,
  dev-token auth with its user lookup, the request transaction, the ownership-scoped
  image query, pydantic serialisation, access log);
- the baseline: a bare Starlette route, outside FastAPI and the middleware, doing the
  same single-row image query on the same SQLAlchemy engine and returning it as JSON.

A separate client process drives both with the same keep-alive load (a minimal HTTP/1.1
client, so the server, not the client, is what saturates), then uploads a 12 MP JPEG
(4000x3000, camera-like noise and EXIF) one at a time and times each until its 202.

A fresh database is created on the PostgreSQL server (``--dsn``), migrated, and dropped
at the end. The last line printed is one JSON object:
``{"bench": "api", "rps", "baseline_rps", "ratio", "upload_12mp_p50_ms",
"upload_12mp_p95_ms"}``.

Run: ``.venv/bin/python benchmarks/api.py [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and benchmarks/queue.py would hide
# the standard library's ``queue`` (which psycopg and multiprocessing import).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from PIL import Image  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SUB = "bench-user"
AUTH = {"Authorization": f"Bearer dev:{SUB}"}
WIDTH, HEIGHT = 4000, 3000


# ------------------------------------------------------------------------------ data


def photo_12mp(seed: int = 0) -> bytes:
    """A 12 MP room-like JPEG with sensor noise and EXIF (about 4-6 MB, like a camera's)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    img[: HEIGHT // 5] = (236, 236, 232)
    img[HEIGHT // 5 : 2 * HEIGHT // 3] = (200, 190, 175)
    img[2 * HEIGHT // 3 :] = (140, 100, 70)
    img[900:1650, 480:1400] = (215, 235, 255)  # a window
    noise = rng.normal(0.0, 6.0, img.shape).astype(np.int16)
    noisy = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    out = io.BytesIO()
    Image.fromarray(noisy).save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


@contextlib.contextmanager
def fresh_database(admin_dsn: str) -> Iterator[str]:
    """A new, empty database on the server; yields its asyncpg URL; dropped afterwards."""
    name = f"vstage_bench_api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------------------- server


def _server_env(database_url: str, storage_dir: Path) -> dict[str, str]:
    return {
        "VSTAGE_DATABASE_URL": database_url,
        "VSTAGE_STORAGE_URL": f"file://{storage_dir}",
        "VSTAGE_AUTH_MODE": "dev",
        "VSTAGE_ALLOW_DEV_AUTH": "1",
        "VSTAGE_SECRET_KEY": "bench-secret",
        "VSTAGE_EMBEDDED_WORKER": "0",
        "VSTAGE_UPLOAD_RATE_PER_MINUTE": "100000",
        "VSTAGE_DATABASE_POOL_SIZE": "10",
    }


def serve(port: int, env: dict[str, str], log_path: str) -> None:
    """Child process: the app plus the bare baseline route, under one uvicorn."""
    os.environ.update(env)
    log = open(log_path, "a")  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 2)

    import uvicorn
    from sqlalchemy import select
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send

    from vstage.app import create_app
    from vstage.config import load_settings
    from vstage.models import Image as ImageRow
    from vstage.observability.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    api = create_app(settings, start_worker=False)

    async def baseline_image(request: Request) -> JSONResponse:
        image_id = uuid.UUID(request.path_params["image_id"])
        async with api.state.db.engine.connect() as conn:
            row = (await conn.execute(select(ImageRow).where(ImageRow.id == image_id))).first()
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(
            {
                "id": str(row.id),
                "project_id": str(row.project_id),
                "status": row.status.value,
                "room_type": row.room_type,
                "style": row.style,
                "seed": row.seed,
                "created_at": row.created_at.isoformat(),
            }
        )

    bare = Starlette(routes=[Route("/baseline/images/{image_id}", baseline_image)])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/baseline/"):
            await bare(scope, receive, send)
        else:
            await api(scope, receive, send)  # lifespan too: it owns the pool

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _migrate(database_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from vstage.migrate import upgrade

    engine = create_async_engine(database_url)
    await upgrade(engine)
    await engine.dispose()


# ---------------------------------------------------------------------------- client


async def _one_connection(
    port: int, request: bytes, deadline: float, counts: list[int], errors: list[str]
) -> None:
    """Keep-alive HTTP/1.1 requests on one connection until ``deadline``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if status != 200:
                errors.append(f"HTTP {status}")
                return
            counts[0] += 1
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def requests_per_second(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    server_pid: int,
) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) under a keep-alive load."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    errors: list[str] = []
    warm = [0]
    await asyncio.gather(
        *(
            _one_connection(port, request, time.perf_counter() + 0.5, warm, errors)
            for _ in range(connections)
        )
    )
    counts = [0]
    cpu_before = cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _one_connection(port, request, started + seconds, counts, errors)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(server_pid) - cpu_before
    if errors:
        raise RuntimeError(f"{path}: {errors[0]}")
    return counts[0] / elapsed, cpu / max(counts[0], 1) * 1e6


async def upload_latencies(base: str, project_id: str, photo: bytes, n: int) -> list[float]:
    times: list[float] = []
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
        for i in range(n + 1):
            started = time.perf_counter()
            response = await client.post(
                f"/v1/projects/{project_id}/images",
                data={"room_type": "living_room", "style": "modern"},
                files={"file": ("room.jpg", photo, "image/jpeg")},
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 202:
                raise RuntimeError(f"upload: {response.status_code} {response.text[:200]}")
            if i:  # the first one warms the decoder pool up
                times.append(elapsed * 1000)
    return times


async def _prepare(base: str, database_url: str) -> tuple[str, str]:
    """A project with one image owned by the bench user; generous quota."""
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
        project = (await client.post("/v1/projects", json={"name": "bench"})).json()
        with psycopg.connect(database_url.replace("+asyncpg", "")) as conn:
            conn.execute("UPDATE plans SET monthly_limit = 1000000")
        small = io.BytesIO()
        Image.new("RGB", (64, 48), (100, 120, 140)).save(small, "JPEG")
        accepted = (
            await client.post(
                f"/v1/projects/{project['id']}/images",
                data={"room_type": "bedroom", "style": "modern"},
                files={"file": ("a.jpg", small.getvalue(), "image/jpeg")},
            )
        ).json()
        return project["id"], accepted["images"][0]["id"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer uploads")
    parser.add_argument("--dsn", default=ADMIN_DSN, help="PostgreSQL admin DSN")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=None, help="alternating A/B rounds")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 5)
    seconds = 1.5 if args.quick else 4.0
    uploads = 8 if args.quick else 30

    with fresh_database(args.dsn) as database_url, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_migrate(database_url))
        port = free_port()
        log_path = str(Path(tmp) / "server.log")
        ctx = mp.get_context("spawn")
        server = ctx.Process(
            target=serve,
            args=(port, _server_env(database_url, Path(tmp) / "storage"), log_path),
            daemon=True,
        )
        server.start()
        try:
            base = f"http://127.0.0.1:{port}"
            project_id, image_id = asyncio.run(_prepare(base, database_url))
            full_path, bare_path = f"/v1/images/{image_id}", f"/baseline/images/{image_id}"
            rounds: list[tuple[float, float]] = []
            cpu: list[tuple[float, float]] = []
            assert server.pid is not None
            for _ in range(args.rounds):
                # Alternate the two, so load from anything else on the machine hits both.
                full, full_cpu = asyncio.run(
                    requests_per_second(
                        port,
                        full_path,
                        AUTH,
                        connections=args.connections,
                        seconds=seconds,
                        server_pid=server.pid,
                    )
                )
                bare, bare_cpu = asyncio.run(
                    requests_per_second(
                        port,
                        bare_path,
                        {},
                        connections=args.connections,
                        seconds=seconds,
                        server_pid=server.pid,
                    )
                )
                rounds.append((full, bare))
                cpu.append((full_cpu, bare_cpu))
            photo = photo_12mp()
            times = asyncio.run(upload_latencies(base, project_id, photo, uploads))
        finally:
            server.terminate()
            server.join(10)

    rps = statistics.median(full for full, _ in rounds)
    baseline = statistics.median(bare for _, bare in rounds)
    ratio = statistics.median(full / bare for full, bare in rounds)
    result: dict[str, Any] = {
        "bench": "api",
        "rps": round(rps, 1),
        "baseline_rps": round(baseline, 1),
        "ratio": round(ratio, 3),
        "upload_12mp_p50_ms": round(statistics.median(times), 1),
        "upload_12mp_p95_ms": round(percentile(times, 0.95), 1),
    }
    print(
        f"cores: {os.cpu_count()}, connections: {args.connections}, "
        f"{args.rounds} rounds of {seconds:g} s each (medians)"
    )
    for i, ((full, bare), (full_cpu, bare_cpu)) in enumerate(zip(rounds, cpu, strict=True), 1):
        print(
            f"  round {i}: full {full:7.1f} req/s ({full_cpu:5.0f} us server CPU/req), "
            f"bare {bare:7.1f} req/s ({bare_cpu:5.0f} us), ratio {full / bare:.2f}"
        )
    full_cpu = statistics.median(c for c, _ in cpu)
    bare_cpu = statistics.median(c for _, c in cpu)
    print(
        f"server CPU per request (noise-proof): full {full_cpu:.0f} us, bare {bare_cpu:.0f} us "
        f"(CPU-bound ratio {bare_cpu / full_cpu:.2f})"
    )
    print(f"GET /v1/images/{{id}}  full stack: {rps:8.1f} req/s")
    print(f"bare Starlette, same query:     {baseline:8.1f} req/s  (ratio {ratio:.2f})")
    print(
        f"12 MP JPEG upload ({len(photo) / 1e6:.1f} MB) to 202, n={len(times)}: "
        f"p50 {result['upload_12mp_p50_ms']} ms, p95 {result['upload_12mp_p95_ms']} ms"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
