"""HMAC-SHA256 signatures: our outgoing webhooks, and the voice gateway's callbacks. Pure.

Webhooks sign `timestamp + "." + body` so a receiver can refuse a replayed old request;
the voice gateway signs the body alone (its protocol: `X-Signature: sha256=<hex>`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_PREFIX = "sha256="
WEBHOOK_TIMESTAMP_HEADER = "X-Eldercare-Timestamp"
WEBHOOK_SIGNATURE_HEADER = "X-Eldercare-Signature"
CALLBACK_SIGNATURE_HEADER = "X-Signature"
# A receiver accepts a webhook signed at most this long ago (clock skew plus transit).
WEBHOOK_TOLERANCE_S = 300


def sign_body(secret: bytes, body: bytes) -> str:
    """`sha256=<hex>` of the body alone (the voice gateway's callbacks)."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_body(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the body's signature; compared in constant time."""
    if not header:
        return False
    return hmac.compare_digest(sign_body(secret, body), header.strip())


def sign_webhook(secret: bytes, body: bytes, timestamp: int) -> str:
    """`sha256=<hex>` over `<unix seconds>.<body>`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: bytes,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: datetime,
    tolerance_s: int = WEBHOOK_TOLERANCE_S,
) -> bool:
    """What a webhook receiver checks: a fresh timestamp and a matching signature."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs(now.timestamp() - timestamp) > tolerance_s:
        return False
    expected = sign_webhook(secret, body, timestamp)
    return hmac.compare_digest(expected, signature_header.strip())
