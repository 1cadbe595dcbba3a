"""Signed callbacks: how the voice gateway signs them, and how a receiver checks them.

The callback body is JSON carrying `"sent_at": <Unix seconds>`, and the POST has:

    X-Signature: sha256=<hex HMAC-SHA256(secret, body)>   (the exact body bytes)
    X-Signature-Timestamp: <the same Unix seconds as sent_at>

The signature covers the body, so the timestamp inside it cannot be changed without the
secret; a receiver refuses a `sent_at` more than `MAX_SKEW_SECONDS` from its own clock,
so a captured request cannot be replayed later (within the window, dedup on the body's
`idempotency_key` / `call_id`). A receiver that only checks the body signature (as
`alerts.signing.verify_body` does) interoperates; `verify` here also checks freshness.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_SCHEME = "sha256="
TIMESTAMP_FIELD = "sent_at"
# Long enough for clock drift and a retry in flight, short enough to make replays useless.
MAX_SKEW_SECONDS = 300


def signature(secret: bytes, body: bytes) -> str:
    """The X-Signature value of `body`."""
    return SIGNATURE_SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signed_callback(
    secret: bytes, fields: Mapping[str, object], now_s: float
) -> tuple[bytes, dict[str, str]]:
    """The JSON body (with `sent_at`) and the headers of a signed callback sent now."""
    timestamp = int(now_s)
    body = json.dumps({**fields, TIMESTAMP_FIELD: timestamp}, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, body),
    }
    return body, headers


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now_s: float,
    max_skew_s: float = MAX_SKEW_SECONDS,
) -> bool:
    """Whether `body` is signed with `secret` (constant-time compare) and was sent within
    `max_skew_s` of `now_s`, by its signed `sent_at` (which the header must repeat)."""
    if not hmac.compare_digest(headers.get(SIGNATURE_HEADER, ""), signature(secret, body)):
        return False
    try:
        sent_at = json.loads(body).get(TIMESTAMP_FIELD)
    except (ValueError, AttributeError):
        return False
    if isinstance(sent_at, bool) or not isinstance(sent_at, int):
        return False
    if headers.get(TIMESTAMP_HEADER) != str(sent_at):
        return False
    return abs(now_s - sent_at) <= max_skew_s
