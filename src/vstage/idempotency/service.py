"""Idempotency keys: replay a finished request, refuse a different or concurrent one.

The lifecycle of one key (scoped per user, kept 24 h):

1. :func:`claim` inserts an *in-flight* row in a short transaction of its own that
   commits before the work starts, so a concurrent request with the same key sees it
   and gets 409 instead of doing the work twice.
2. The work runs in its own transaction and calls :func:`remember`, which writes the
   response into that row *in the work's transaction*: the created rows and the
   stored response commit together or not at all.
3. If the work fails, :func:`release` deletes the in-flight row, so the client can
   retry with the same key (nothing was created, so nothing can be created twice).
   Only successful responses are stored; errors are not replayed.

A row left in flight by a crashed process is taken over after ``IN_FLIGHT_TIMEOUT``.
Each claim gets a fresh row id, and :func:`remember`/:func:`release` act only on
their own id, so a request that was taken over cannot overwrite its successor.

The request hash is over the request's *meaning* (DESIGN §6): method, path, query,
and the parsed JSON body or form fields plus the SHA-256 of each file, never raw
multipart bytes (whose boundary changes on every retry).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.db import Database
from vstage.errors import Conflict, InvalidInput
from vstage.models import IdempotencyKey, utcnow

KEY_TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
PURGE_BATCH = 500
_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # MAX_KEY_LENGTH
_CLAIM_INFO = "vstage.idempotency_claim"


class KeyInUse(Conflict):
    """The same key is being processed by another request right now (409)."""

    code = "idempotency_key_in_use"


class KeyReused(InvalidInput):
    """The key was used for a request that meant something else (422)."""

    code = "idempotency_key_reused"


class ReplayedResponse(Exception):
    """The key already has a stored response: answer with it, do nothing else.

    A control-flow signal rather than an error; :mod:`vstage.error_handlers` turns it
    into the stored response."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(f"replaying stored {status_code} response")
        self.status_code = status_code
        self.body = body


@dataclass(frozen=True)
class Claim:
    """This request's hold on one key; ``row_id`` identifies this claim only."""

    row_id: uuid.UUID
    user_id: uuid.UUID
    key: str


def validate_key(key: str) -> str:
    """1-255 visible ASCII characters (what clients put in a header), else 422."""
    if not _KEY_RE.fullmatch(key):
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} visible ASCII characters")
    return key


def fingerprint(method: str, path: str, query: str, meaning: Any) -> str:
    """SHA-256 over the canonical JSON of what the request asks for."""
    canonical = json.dumps(
        {
            "method": method.upper(),
            "path": path,
            "query": sorted(q for q in query.split("&") if q),
            "body": meaning,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_meaning(raw: bytes) -> Any:
    """A JSON body's parsed value (key order and spacing don't matter), or its hash."""
    try:
        return {"json": json.loads(raw)} if raw else {"empty": True}
    except (ValueError, UnicodeDecodeError):
        return {"raw_sha256": hashlib.sha256(raw).hexdigest()}


async def claim(
    db: Database,
    user_id: uuid.UUID,
    key: str,
    request_hash: str,
    *,
    now: datetime | None = None,
) -> Claim:
    """Mark ``key`` in flight for this request, committed before returning.

    Raises :class:`ReplayedResponse` (finished before), :class:`KeyReused` (another
    request used it) or :class:`KeyInUse` (still running elsewhere).
    """
    now = now or utcnow()
    async with db.transaction() as session:
        row_id = await _insert(session, user_id, key, request_hash, now)
        if row_id is not None:
            await _purge_expired(session, now)
            return Claim(row_id, user_id, key)
        row = await session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
            .with_for_update()
        )
        if row is None:  # purged between our insert attempt and the select
            row_id = await _insert(session, user_id, key, request_hash, now)
            if row_id is None:
                raise KeyInUse("a request with this Idempotency-Key is in progress", retry_after=1)
            return Claim(row_id, user_id, key)
        expired = row.expires_at <= now
        abandoned = row.response_status is None and row.created_at <= now - IN_FLIGHT_TIMEOUT
        if expired or (abandoned and row.request_hash == request_hash):
            await session.delete(row)
            await session.flush()
            row_id = await _insert(session, user_id, key, request_hash, now)
            assert row_id is not None
            return Claim(row_id, user_id, key)
        if row.request_hash != request_hash:
            raise KeyReused(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request"
            )
        if row.response_status is not None and row.response_body is not None:
            raise ReplayedResponse(row.response_status, row.response_body)
        raise KeyInUse(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            retry_after=1,
        )


async def _insert(
    session: AsyncSession, user_id: uuid.UUID, key: str, request_hash: str, now: datetime
) -> uuid.UUID | None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    row_id = uuid.uuid4()
    stmt = (
        insert(IdempotencyKey)
        .values(
            id=row_id,
            user_id=user_id,
            key=key,
            request_hash=request_hash,
            created_at=now,
            expires_at=now + KEY_TTL,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    )
    inserted: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return inserted


async def _purge_expired(session: AsyncSession, now: datetime) -> None:
    """Delete a bounded batch of expired keys (index on ``expires_at``)."""
    expired = select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= now).limit(PURGE_BATCH)
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired)))


def attach(session: AsyncSession, claim_: Claim | None) -> None:
    """Tell :func:`remember` which claim the work in ``session`` answers."""
    if claim_ is not None:
        session.info[_CLAIM_INFO] = claim_


async def remember(session: AsyncSession, status_code: int, body: dict[str, Any]) -> None:
    """Store the response in the work's transaction (no-op without an attached claim).

    Raises :class:`KeyInUse` if the claim was taken over meanwhile, which rolls the
    work back: the request that took over does it instead.
    """
    claim_: Claim | None = session.info.get(_CLAIM_INFO)
    if claim_ is None:
        return
    result = await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim_.row_id, IdempotencyKey.response_status.is_(None))
        .values(response_status=status_code, response_body=body)
    )
    if not getattr(result, "rowcount", 0):
        raise KeyInUse("this Idempotency-Key was taken over by a retry of the request")


async def release(db: Database, claim_: Claim) -> None:
    """Drop an in-flight claim whose work failed, so the client can retry the key."""
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == claim_.row_id, IdempotencyKey.response_status.is_(None)
            )
        )
