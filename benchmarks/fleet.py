"""Scale-out proof: a small vstage fleet of real processes, with workers killed midway.

PostgreSQL (a fresh database on the machine's server) + SeaweedFS (real S3) + 2 API
processes (``vstage serve``) + 3 worker processes (``vstage worker``) using a tiny
random diffusers model. A client uploads IMAGES photos through both APIs round-robin
as several users; midway one worker is killed with SIGKILL and another is stopped
with SIGTERM and restarted. Then every invariant the design promises is checked:

- every image ``ready``, every job ``completed`` exactly once, none left processing;
- every user charged exactly once per image (no refunds, no double charges);
- no orphaned storage object (every key in the bucket is referenced by an image row),
  and every image's staged file and mask exist.

Usage: ``.venv/bin/python -m benchmarks.fleet [--images 200] [--quick]``. The last line
printed is one JSON object; ``tests/fleet`` runs a 30-image version in the default suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from tests.fixtures.s3 import S3Server, run_seaweedfs, weed_binary
from tests.web.room import room_jpeg

PG_ADMIN_DSN = os.environ.get("VSTAGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
VSTAGE = [sys.executable, "-m", "vstage"]


@dataclass
class FleetResult:
    images: int
    ready: int = 0
    failed: int = 0
    duplicates: int = 0
    orphans: int = 0
    missing_files: int = 0
    stuck: int = 0
    charged_ok: bool = False
    images_per_s: float = 0.0
    wall_s: float = 0.0
    killed_mid_job: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.ready == self.images
            and self.failed == 0
            and self.duplicates == 0
            and self.orphans == 0
            and self.missing_files == 0
            and self.stuck == 0
            and self.charged_ok
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _fresh_database() -> Iterator[str]:
    name = f"vstage_fleet_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Fleet:
    """The processes of one run; everything started here is stopped in :meth:`close`."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.apis: list[tuple[subprocess.Popen[bytes], str]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self._n = 0

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        self._n += 1
        log = open(self.logdir / f"{self._n:02d}-{name}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(
            [*VSTAGE, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.logdir
        )

    def start_api(self) -> str:
        port = _free_port()
        proc = self._spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], "api")
        url = f"http://127.0.0.1:{port}"
        self.apis.append((proc, url))
        return url

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = self._spawn(["worker", "--concurrency", "1"], "worker")
        self.workers.append(proc)
        return proc

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for proc, url in self.apis:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"API {url} exited with {proc.returncode}; see {self.logdir}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"API {url} not ready after {timeout_s}s; see {self.logdir}")
                time.sleep(0.2)

    def close(self) -> None:
        procs = [p for p, _ in self.apis] + self.workers
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run([*VSTAGE, *args], env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"vstage {' '.join(args)} failed: {result.stderr.strip()}")


def _fleet_env(db_url: str, s3: S3Server, bucket: str, model_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSTAGE_")}
    env.update(s3.env(bucket, prefix="fleet"))
    env.update(
        {
            "VSTAGE_DATABASE_URL": db_url.replace("postgresql://", "postgresql+asyncpg://", 1),
            "VSTAGE_AUTH_MODE": "dev",
            "VSTAGE_ALLOW_DEV_AUTH": "1",
            "VSTAGE_SECRET_KEY": uuid.uuid4().hex,
            "VSTAGE_MODEL": str(model_dir),
            "VSTAGE_DEVICE": "cpu",
            # The fleet's subject is the queue, storage and billing under failure, not
            # image quality: 2 diffusion steps, and no drift retries (a random model
            # always "drifts").
            "VSTAGE_STEPS": "2",
            "VSTAGE_DRIFT_RETRIES": "0",
            "VSTAGE_EMBEDDED_WORKER": "0",
            "VSTAGE_JOB_HEARTBEAT_SECONDS": "0.5",
            "VSTAGE_JOB_HEARTBEAT_TIMEOUT_SECONDS": "4",
            "VSTAGE_JOB_RESCUE_INTERVAL_SECONDS": "1",
            "VSTAGE_JOB_RETRY_BASE_SECONDS": "0.2",
            "VSTAGE_UPLOAD_RATE_PER_MINUTE": "100000",
            "VSTAGE_LOG_FORMAT": "json",
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


async def _upload_all(
    api_urls: list[str], n_images: int, n_users: int, on_half: asyncio.Event
) -> dict[str, list[str]]:
    """Upload ``n_images`` photos round-robin over the APIs; return image ids per user."""
    photos = [room_jpeg(384, 256, seed=i) for i in range(8)]
    per_user: dict[str, list[str]] = {f"fleet-user-{u}": [] for u in range(n_users)}
    async with httpx.AsyncClient(timeout=60) as client:
        projects: dict[str, str] = {}
        for i, user in enumerate(per_user):
            r = await client.post(
                f"{api_urls[i % len(api_urls)]}/v1/projects",
                json={"name": f"listing {i}"},
                headers={"Authorization": f"Bearer dev:{user}"},
            )
            r.raise_for_status()
            projects[user] = r.json()["id"]
        users = list(per_user)
        sem = asyncio.Semaphore(4)

        async def one(i: int) -> None:
            user = users[i % n_users]
            api = api_urls[i % len(api_urls)]
            async with sem:
                r = await client.post(
                    f"{api}/v1/projects/{projects[user]}/images",
                    files={"file": (f"room{i}.jpg", photos[i % len(photos)], "image/jpeg")},
                    data={"room_type": "living_room", "style": "modern", "seed": str(i)},
                    headers={"Authorization": f"Bearer dev:{user}"},
                )
            if r.status_code != 202:
                raise RuntimeError(f"upload {i} via {api}: {r.status_code} {r.text[:200]}")
            per_user[user].extend(img["id"] for img in r.json()["images"])
            if i == n_images // 2:
                on_half.set()

        await asyncio.gather(*(one(i) for i in range(n_images)))
    return per_user


def _job_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
    return {str(s): int(c) for s, c in rows}


async def _disrupt(fleet: Fleet, db_url: str, on_half: asyncio.Event, result: FleetResult) -> None:
    """Once half the photos are in: SIGKILL a worker mid-job, SIGTERM + restart another."""
    await on_half.wait()
    victim, stopped = fleet.workers[0], fleet.workers[1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(200):  # wait (bounded) until some job is running, then kill
            if _job_counts(conn).get("processing", 0) > 0:
                result.killed_mid_job = True
                break
            await asyncio.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    stopped.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(stopped.wait, 120)
    if code != 0:
        result.notes.append(f"SIGTERM'd worker exited {code}")
    fleet.start_worker()


def _wait_for_drain(db_url: str, n_images: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            done = conn.execute(
                "SELECT count(*) FROM images WHERE status IN ('ready', 'error')"
            ).fetchone()
            if done and int(done[0]) >= n_images:
                return
            time.sleep(0.5)


def _check(
    db_url: str, s3: S3Server, bucket: str, per_user: dict[str, list[str]], result: FleetResult
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        statuses = dict(
            conn.execute("SELECT status::text, count(*) FROM images GROUP BY status").fetchall()
        )
        result.ready = int(statuses.get("ready", 0))
        result.failed = int(statuses.get("error", 0))
        jobs = _job_counts(conn)
        result.stuck = jobs.get("processing", 0) + jobs.get("queued", 0)
        # A duplicate: an image with more than one completed stage job, or a job
        # count that differs from the image count.
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT image_id FROM jobs WHERE status = 'completed' "
            "GROUP BY image_id HAVING count(*) > 1) d"
        ).fetchone()
        result.duplicates = int(dup[0]) if dup else 0
        result.duplicates += abs(jobs.get("completed", 0) - result.ready)
        charged = True
        for user, ids in per_user.items():
            row = conn.execute(
                "SELECT count(*), count(DISTINCT u.image_id), "
                "count(*) FILTER (WHERE u.refunded_at IS NOT NULL) "
                "FROM usage u JOIN users us ON us.id = u.user_id WHERE us.auth0_sub = %s",
                (user,),
            ).fetchone()
            assert row is not None
            if (int(row[0]), int(row[1]), int(row[2])) != (len(ids), len(ids), 0):
                charged = False
                result.notes.append(f"{user}: charges {tuple(row)} for {len(ids)} images")
        result.charged_ok = charged
        referenced: set[str] = set()
        for keys in conn.execute(
            "SELECT original_url, staged_url, mask_url, user_mask_url FROM images"
        ).fetchall():
            referenced.update(k for k in keys if k)
        wanted = conn.execute(
            "SELECT count(*) FROM images WHERE staged_url IS NULL OR mask_url IS NULL"
        ).fetchone()
    client = s3.client()
    stored: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stored.update(obj["Key"] for obj in page.get("Contents", []))
    prefix = "fleet/"
    stored_keys = {k.removeprefix(prefix) for k in stored}
    result.orphans = len(stored_keys - referenced)
    result.missing_files = len(referenced - stored_keys) + (int(wanted[0]) if wanted else 0)


def run_fleet(n_images: int = 200, n_users: int = 10, timeout_s: float = 900) -> FleetResult:
    from vstage.staging.tiny import make_tiny_pipeline

    result = FleetResult(images=n_images)
    workdir = Path(tempfile.mkdtemp(prefix="vstage-fleet-"))
    model_dir = make_tiny_pipeline(workdir / "tiny-model")
    with _fresh_database() as db_url, run_seaweedfs(weed_binary()) as s3:
        bucket = s3.create_bucket()
        env = _fleet_env(db_url, s3, bucket, model_dir)
        _run(["migrate"], env)
        _run(["plans", "set", "free", "--limit", str(n_images * 10)], env)
        fleet = Fleet(env, workdir)
        try:
            urls = [fleet.start_api(), fleet.start_api()]
            for _ in range(3):
                fleet.start_worker()
            fleet.wait_ready()
            start = time.monotonic()

            async def drive() -> dict[str, list[str]]:
                half = asyncio.Event()
                disruption = asyncio.create_task(_disrupt(fleet, db_url, half, result))
                per_user = await _upload_all(urls, n_images, n_users, half)
                await disruption
                return per_user

            per_user = asyncio.run(drive())
            _wait_for_drain(db_url, n_images, timeout_s)
            result.wall_s = round(time.monotonic() - start, 2)
            result.images_per_s = round(n_images / result.wall_s, 3)
            _check(db_url, s3, bucket, per_user, result)
        finally:
            fleet.close()
    if result.ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        result.notes.append(f"process logs kept in {workdir}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="30 images")
    args = parser.parse_args()
    n = 30 if args.quick else args.images
    r = run_fleet(n, args.users)
    print(f"{'images':>14} {r.images}")
    for name in ("ready", "failed", "duplicates", "orphans", "missing_files", "stuck"):
        print(f"{name:>14} {getattr(r, name)}")
    print(f"{'charged_ok':>14} {r.charged_ok}")
    print(f"{'killed mid-job':>14} {r.killed_mid_job}")
    print(f"{'wall_s':>14} {r.wall_s}   images/s {r.images_per_s}")
    for note in r.notes:
        print(f"note: {note}")
    summary = {
        "bench": "fleet",
        **{
            k: v
            for k, v in asdict(r).items()
            if k
            in (
                "images",
                "ready",
                "failed",
                "duplicates",
                "orphans",
                "charged_ok",
                "images_per_s",
                "wall_s",
            )
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
