"""The ``Vstage-Signature`` header: Stripe's scheme, so receivers know how to check it.

``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, the secret taken as
its UTF-8 string. The timestamp is inside the signed text, so a receiver that rejects
old timestamps (5 minutes is usual) is safe from replays; each attempt is signed anew.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def signature(secret: str, timestamp: int, body: str) -> str:
    signed = f"{timestamp}.{body}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: str) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
