"""Stored objects of images: which ones a row owns, and deleting them after commit.

Rows and objects live in different systems, so deletion is ordered to keep the
database right whatever fails: the rows go first, in the request's transaction; the
objects go after it commits. A failed object delete is retried, then logged (an
orphaned object costs storage, never correctness); a failed commit deletes nothing.

Variations and restages share their original (and user mask) with other rows, so an
image's objects are deleted only if no remaining row refers to them. That decision is
made inside the deleting transaction, after locking every row that shares the keys,
so a concurrent restage either finishes first (and its row keeps the original) or
finds its source gone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from fastapi import BackgroundTasks
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.models import Image
from vstage.storage import Storage, StorageError, image_prefix, project_prefix

if TYPE_CHECKING:
    from vstage.images.service import DeletedImage

log = logging.getLogger(__name__)

DELETE_ATTEMPTS = 3
RETRY_BASE_SECONDS = 0.2


def keys_of(image: Image) -> set[str]:
    """The storage keys an image row names."""
    return {
        key
        for key in (image.original_url, image.staged_url, image.mask_url, image.user_mask_url)
        if key
    }


async def still_referenced(
    session: AsyncSession, keys: Iterable[str], *, excluding: Sequence[uuid.UUID]
) -> set[str]:
    """Those of ``keys`` that a row other than ``excluding`` names (rows locked first)."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    refers = or_(
        Image.original_url.in_(wanted),
        Image.staged_url.in_(wanted),
        Image.mask_url.in_(wanted),
        Image.user_mask_url.in_(wanted),
    )
    others = Image.id.not_in(list(excluding))
    # Lock the sharing rows (a concurrent restage of one of them holds it FOR SHARE);
    # then read again: the locked statement may miss rows committed while it waited.
    await session.execute(select(Image.id).where(refers, others).with_for_update())
    rows = (
        await session.execute(
            select(Image.original_url, Image.staged_url, Image.mask_url, Image.user_mask_url).where(
                refers, others
            )
        )
    ).all()
    named = {key for row in rows for key in row if key}
    return named & set(wanted)


async def delete_objects(storage: Storage, keys: Iterable[str]) -> list[str]:
    """Delete each key, retrying with backoff; return the keys that could not be deleted."""
    failed: list[str] = []
    for key in sorted(set(keys)):
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            try:
                await storage.delete(key)
                break
            except StorageError as exc:
                if attempt == DELETE_ATTEMPTS:
                    log.error(
                        "could not delete stored object %s after %d attempts: %s; "
                        "it is orphaned (no row refers to it)",
                        key,
                        attempt,
                        exc,
                    )
                    failed.append(key)
                else:
                    await asyncio.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return failed


async def _listed(storage: Storage, prefix: str) -> set[str]:
    try:
        return set(await storage.list_keys(prefix))
    except StorageError as exc:
        log.error("could not list stored objects under %s: %s", prefix, exc)
        return set()


async def delete_image_objects(
    storage: Storage,
    *,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    image_id: uuid.UUID,
    keys: set[str],
    keep: set[str],
) -> None:
    """After commit: the deleted image's keys and anything else under its prefix,
    except ``keep`` (keys other rows still name)."""
    listed = await _listed(storage, image_prefix(user_id, project_id, image_id))
    await delete_objects(storage, (keys | listed) - keep)


def delete_after_commit(
    background: BackgroundTasks, storage: Storage, deleted: DeletedImage
) -> None:
    """Queue a deleted image's stored files for removal once the response (and so the
    commit) is done: a failed commit must never have removed a file."""
    background.add_task(
        delete_image_objects,
        storage,
        user_id=deleted.user_id,
        project_id=deleted.project_id,
        image_id=deleted.image_id,
        keys=deleted.keys,
        keep=deleted.keep,
    )


async def delete_project_objects(
    storage: Storage, *, user_id: uuid.UUID, project_id: uuid.UUID, keys: set[str]
) -> None:
    """After commit: every object of a deleted project (its rows' keys and its prefix)."""
    listed = await _listed(storage, project_prefix(user_id, project_id))
    await delete_objects(storage, keys | listed)
