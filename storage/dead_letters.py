"""Dead letters: what ingest could not accept, kept with its reason, within bounds.

One device must not fill the disk (issue 11): a letter keeps at most the first
DEAD_LETTER_KEEP_BYTES of its payload with the payload's size and SHA-256, and past
`per_device_hour` letters a device in an hour only counts are kept (dead_letter_counts,
per device, hour and kind of reason). Every letter is counted, kept or not.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

# Enough to read what a device sent (a contract message is at most 4 KiB; most are under
# 200 bytes) and small enough that a flood of 64 KiB packets costs 2 KiB a letter.
DEAD_LETTER_KEEP_BYTES = 2048
DEFAULT_PER_DEVICE_HOUR = 60
# A topic is kept to this many characters (a valid one has at most 94).
MAX_TOPIC_CHARS = 256
# Namespaces our transaction-scoped advisory locks (pg_advisory_xact_lock(class, key)).
_LOCK_CLASS = 0x646C6574  # "dlet"
NO_DEVICE = ""  # the counts' device for letters whose topic names no device

COLUMNS = ("topic", "payload", "reason", "received_at", "device_id", "payload_bytes",
           "payload_sha256")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message (or one element of a batched upload) we could not accept, with its
    reason. `device_id` is the device its topic names, None when it names none."""

    topic: str
    payload: bytes
    reason: str
    received_at: datetime
    device_id: str | None = None


def reason_kind(reason: str) -> str:
    """A rejection's kind, what counts and metrics go by: `schema`, not `schema: ts
    missing`; a batched upload's element by its own (`readings[3] schema: ...` → `schema`)."""
    if reason.startswith("readings["):
        reason = reason.partition("] ")[2]
    return reason.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class DeadLetterResult:
    """What one write did: letters counted, and of them kept as rows."""

    counted: int
    kept: int


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _row(letter: DeadLetter) -> tuple[object, ...]:
    payload = letter.payload
    # PostgreSQL text cannot hold NUL; the wire's topics are UTF-8 without it, but a
    # letter is exactly where what should not happen ends up.
    topic = letter.topic[:MAX_TOPIC_CHARS].replace("\x00", "\\0")
    return (topic, payload[:DEAD_LETTER_KEEP_BYTES], letter.reason[:500].replace("\x00", "\\0"),
            letter.received_at, letter.device_id, len(payload),
            hashlib.sha256(payload).digest())  # fmt: skip


async def write_dead_letters(
    conn: asyncpg.Connection,
    letters: Sequence[DeadLetter],
    per_device_hour: int = DEFAULT_PER_DEVICE_HOUR,
) -> DeadLetterResult:
    """Count every letter and keep (truncated) those within each device's hourly rate.

    Must run inside the caller's transaction. The device-hours involved are locked first,
    in a fixed order, so concurrent writers never keep more than the rate between them.
    """
    if not letters:
        return DeadLetterResult(0, 0)
    buckets = sorted({(d.device_id or NO_DEVICE, _hour(d.received_at)) for d in letters})
    devices = [b[0] for b in buckets]
    hours = [b[1] for b in buckets]
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, k) FROM ("
        " SELECT DISTINCT hashtext(d || '/' || h::text) AS k"
        " FROM unnest($2::text[], $3::timestamptz[]) AS u(d, h) ORDER BY k) AS keys",
        _LOCK_CLASS, devices, hours,
    )  # fmt: skip
    kept_before = {
        (r["device_id"], r["hour"]): r["kept"]
        for r in await conn.fetch(
            "SELECT c.device_id, c.hour, sum(c.kept)::bigint AS kept"
            " FROM dead_letter_counts c"
            " JOIN unnest($1::text[], $2::timestamptz[]) AS u(d, h)"
            "   ON c.device_id = u.d AND c.hour = u.h"
            " GROUP BY c.device_id, c.hour",
            devices,
            hours,
        )
    }
    room = {b: max(0, per_device_hour - kept_before.get(b, 0)) for b in buckets}
    keep: list[DeadLetter] = []
    rejected: Counter[tuple[str, datetime, str]] = Counter()
    kept: Counter[tuple[str, datetime, str]] = Counter()
    for letter in letters:
        bucket = (letter.device_id or NO_DEVICE, _hour(letter.received_at))
        key = (*bucket, reason_kind(letter.reason))
        rejected[key] += 1
        if room[bucket] > 0:
            room[bucket] -= 1
            kept[key] += 1
            keep.append(letter)
    keys = sorted(rejected)  # a fixed order of row locks, as for every upsert here
    await conn.execute(
        "INSERT INTO dead_letter_counts AS c (device_id, hour, reason, rejected, kept)"
        " SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[],"
        "                      $5::bigint[])"
        " ON CONFLICT (device_id, hour, reason) DO UPDATE"
        " SET rejected = c.rejected + EXCLUDED.rejected, kept = c.kept + EXCLUDED.kept",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        [rejected[k] for k in keys], [kept[k] for k in keys],
    )  # fmt: skip
    if keep:
        await conn.copy_records_to_table(
            "dead_letters", records=[_row(d) for d in keep], columns=COLUMNS
        )
    return DeadLetterResult(len(letters), len(keep))
