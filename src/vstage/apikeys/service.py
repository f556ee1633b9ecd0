"""API key logic, no HTTP.

A key is ``vst_`` + base64url of 32 random bytes (256 bits): guessing is hopeless, so a
plain SHA-256 is the right hash (no salt or slow KDF needed, and it allows the lookup
by hash that authentication needs). The key itself is returned once and never stored;
the row keeps its hash, a short prefix and its last 4 characters for the owner's list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.db import Database
from vstage.errors import Conflict, NotFound, Unauthorized
from vstage.models import ApiKey, User, utcnow
from vstage.pagination import PageParams, paginate

KEY_PREFIX = "vst_"
#: ``vst_`` + 43 base64url characters (32 bytes, unpadded).
_KEY_RE = re.compile(r"vst_[A-Za-z0-9_-]{43}")
#: How many characters after ``vst_`` the list shows, and how many at the end.
SHOWN_PREFIX = 4
SHOWN_SUFFIX = 4
#: ``last_used_at`` is written at most this often per key: a key used by a busy
#: integration must not turn every request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACTIVE_KEYS = 100


def new_key() -> str:
    raw = secrets.token_bytes(32)
    return KEY_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (as opposed to a JWT or dev token)."""
    return token.startswith(KEY_PREFIX)


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    key: str


async def create_key(session: AsyncSession, user: User, name: str) -> CreatedKey:
    active = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_ACTIVE_KEYS:
        raise Conflict(f"at most {MAX_ACTIVE_KEYS} active API keys; revoke one first")
    key = new_key()
    row = ApiKey(
        id=uuid.uuid4(),
        user_id=user.id,
        name=name,
        key_hash=hash_key(key),
        prefix=key[: len(KEY_PREFIX) + SHOWN_PREFIX],
        last4=key[-SHOWN_SUFFIX:],
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return CreatedKey(row, key)


async def list_keys(session: AsyncSession, user: User, page: PageParams) -> Sequence[ApiKey]:
    stmt = paginate(
        select(ApiKey).where(ApiKey.user_id == user.id), page, ApiKey.created_at, ApiKey.id
    )
    return (await session.scalars(stmt)).all()


async def revoke_key(session: AsyncSession, user: User, key_id: uuid.UUID) -> ApiKey:
    """Revoke at once (the next request with it is 401); revoking twice is harmless."""
    row = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id).with_for_update()
    )
    if row is None:
        raise NotFound("API key not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row


# Built once: this runs on every request authenticated by a key.
_ACTIVE_KEY = (
    select(ApiKey.id, ApiKey.key_hash, ApiKey.last_used_at, User.auth0_sub)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


async def authenticate(db: Database, token: str) -> tuple[uuid.UUID, str]:
    """The key's id and its user's subject, or 401 for an unknown or revoked key.

    The row is found by hash (an index lookup), then the hashes are compared again in
    constant time, so the comparison itself leaks nothing about near misses.
    """
    if not _KEY_RE.fullmatch(token):
        raise Unauthorized("invalid API key")
    digest = hash_key(token)
    async with db.sessionmaker() as session:
        row = (await session.execute(_ACTIVE_KEY, {"key_hash": digest})).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthorized("invalid or revoked API key")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        async with db.transaction() as session:
            await session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == row.id,
                    or_(
                        ApiKey.last_used_at.is_(None),
                        ApiKey.last_used_at < now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    return row.id, str(row.auth0_sub)
