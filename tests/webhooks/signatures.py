"""A receiver's signature check, written from the documented scheme alone.

``Vstage-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` with the
secret as its UTF-8 string — what an integrator would write, independent of our code.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = 300) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])
