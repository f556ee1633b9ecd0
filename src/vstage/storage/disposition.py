"""``Content-Disposition`` values for downloads.

Both download paths need the same header: the app sets it when it streams a local
file, and S3 echoes it back from the presigned URL's ``response-content-disposition``.
The download name is derived from user input (project name, original file name), so
it is sanitised here: no quotes, backslashes, slashes or control characters can
break out of the header, and non-ASCII names travel in RFC 6266 ``filename*``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ._()+,@~-]")
_MAX_NAME = 200


def safe_filename(filename: str) -> str:
    """A file name without path parts or control characters, never empty."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[:_MAX_NAME] or "download"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''utf8`` for ``filename``."""
    name = safe_filename(filename)
    fallback = _UNSAFE_ASCII.sub("_", name)
    kind = "inline" if inline else "attachment"
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
