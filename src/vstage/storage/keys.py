"""Storage keys: how they are built, and which ones a backend accepts.

Keys are ours, never a user's file name, so the accepted alphabet can be tiny: path
segments of ``[A-Za-z0-9_-]`` followed by ``[A-Za-z0-9._-]*``, joined by single ``/``.
A segment can never start with a dot, which rules out ``.``/``..`` (path traversal in
the local backend) and leaves dot-names free for the local backend's temporary files.
Absolute paths, backslashes, empty segments and control characters are all rejected
by the same rule.
"""

from __future__ import annotations

import re
import uuid

from vstage.storage.base import StorageError

MAX_KEY_LENGTH = 512

_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_PREFIX_RE = re.compile(rf"(?:{_SEGMENT}/)*(?:{_SEGMENT})?")

#: The object names an image may own. A fixed set keeps keys predictable (deletion,
#: orphan checks) and makes it impossible for a user-chosen name to reach storage.
OBJECT_NAMES: frozenset[str] = frozenset(
    {
        "original.jpg",
        "original.png",
        "original.webp",
        "original.heic",
        "staged.jpg",
        "staged.png",
        "staged.webp",
        "mask.png",
        "user_mask.png",
        "structure.png",
        "depth.png",
        "thumb.jpg",
        "thumb.webp",
    }
)


class InvalidKey(StorageError, ValueError):
    """A key outside the accepted alphabet: a bug or an attack, never retried."""


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a well-formed storage key, else raise."""
    if len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid storage key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Like :func:`validate_key` for listing prefixes: ``""``, ``"u/"``, ``"u/ab"``."""
    if len(prefix) > MAX_KEY_LENGTH or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidKey(f"invalid storage prefix {prefix!r}")
    return prefix


def _uuid(value: uuid.UUID | str) -> str:
    """Canonical UUID text; anything else is refused (ids come from our database)."""
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidKey(f"not a UUID: {value!r}") from None


def user_prefix(user_id: uuid.UUID | str) -> str:
    """Everything a user owns (account deletion)."""
    return f"u/{_uuid(user_id)}/"


def project_prefix(user_id: uuid.UUID | str, project_id: uuid.UUID | str) -> str:
    """Everything a project owns: ``list_keys`` + ``delete`` when the project goes."""
    return f"{user_prefix(user_id)}p/{_uuid(project_id)}/"


def image_prefix(
    user_id: uuid.UUID | str, project_id: uuid.UUID | str, image_id: uuid.UUID | str
) -> str:
    """Everything one image owns (original, output, masks)."""
    return f"{project_prefix(user_id, project_id)}i/{_uuid(image_id)}/"


def storage_key(
    user_id: uuid.UUID | str,
    project_id: uuid.UUID | str,
    image_id: uuid.UUID | str,
    name: str,
) -> str:
    """``u/{user}/p/{project}/i/{image}/{name}`` with ``name`` from :data:`OBJECT_NAMES`."""
    if name not in OBJECT_NAMES:
        raise InvalidKey(f"unknown object name {name!r}; expected one of {sorted(OBJECT_NAMES)}")
    return image_prefix(user_id, project_id, image_id) + name
