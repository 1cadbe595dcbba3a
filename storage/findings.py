"""Findings, detector state and away periods: what the detector stage reads and writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from core.findings import Finding
from core.kinds import Category, Severity


async def insert_findings(
    conn: asyncpg.Connection, findings: Sequence[Finding], *, taken_at: datetime | None = None
) -> int:
    """Store findings; one already stored (same home, kind, time) is skipped. Returns new ones.

    `taken_at` set: the alert stage is not to take them (findings about the past).
    """
    if not findings:
        return 0
    rows = await conn.fetch(
        """
        INSERT INTO findings (home_id, category, kind, severity, at, explanation, clears,
                              withdrawn, params, taken_at)
        SELECT home_id, category, kind, severity, at, explanation, clears, withdrawn,
               params::jsonb, $10::timestamptz
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                    $6::text[], $7::boolean[], $8::boolean[], $9::text[])
             AS f(home_id, category, kind, severity, at, explanation, clears, withdrawn,
                  params)
        ON CONFLICT (home_id, kind, at, clears, withdrawn) DO NOTHING
        RETURNING id
        """,
        [f.home_id for f in findings], [f.category.value for f in findings],
        [f.kind for f in findings], [f.severity.value for f in findings],
        [f.at for f in findings], [f.explanation for f in findings],
        [f.clears for f in findings], [f.withdrawn for f in findings],
        [json.dumps(dict(f.params)) for f in findings], taken_at,
    )  # fmt: skip
    return len(rows)


async def list_findings(
    conn: asyncpg.Connection,
    *,
    home_id: str | None = None,
    category: Category | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Finding]:
    """Most recent findings first, optionally for one home, category or period."""
    rows = await conn.fetch(
        """
        SELECT home_id, category, kind, severity, at, explanation, clears, withdrawn, params
        FROM findings
        WHERE ($1::text IS NULL OR home_id = $1) AND ($2::text IS NULL OR category = $2)
          AND ($3::timestamptz IS NULL OR at >= $3)
        ORDER BY at DESC, id DESC LIMIT $4
        """,
        home_id, category.value if category else None, since, limit,
    )  # fmt: skip
    return [_finding(r) for r in rows]


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding with its row id, as the alert stage takes it."""

    id: int
    finding: Finding
    recorded_at: datetime | None = None  # when it was stored (the database's clock)


async def take_untaken_findings(conn: asyncpg.Connection, limit: int) -> list[StoredFinding]:
    """Findings the alert stage has not taken, locked for the caller's transaction (SKIP
    LOCKED: two alert workers never take the same one).

    Oldest first, except that a critical finding with nothing older pending for its own
    home and kind goes ahead of the queue: after an outage a flood of minor findings must
    not hold back a smoke alarm, and order within one (home, kind) — an alarm and its
    clearing — is kept.
    """
    rows = await conn.fetch(
        """
        SELECT id, home_id, category, kind, severity, at, explanation, clears, withdrawn, params,
               recorded_at
        FROM findings f
        WHERE taken_at IS NULL
        ORDER BY (severity = 'critical' AND NOT EXISTS (
                      SELECT 1 FROM findings e WHERE e.taken_at IS NULL
                      AND e.home_id = f.home_id AND e.kind = f.kind AND e.id < f.id)) DESC,
                 id
        LIMIT $1 FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [StoredFinding(r["id"], _finding(r), r["recorded_at"]) for r in rows]


async def mark_taken(conn: asyncpg.Connection, ids: Sequence[int], at: datetime) -> None:
    """Mark findings taken, in the transaction that applied them."""
    await conn.execute("UPDATE findings SET taken_at = $2 WHERE id = ANY($1::bigint[])", ids, at)


def _finding(r: asyncpg.Record) -> Finding:
    return Finding(
        r["home_id"],
        Category(r["category"]),
        r["kind"],
        Severity(r["severity"]),
        r["at"],
        r["explanation"],
        r["clears"],
        r["withdrawn"],
        params=_params(r["params"]),
    )


def _params(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


async def save_detector_states(
    conn: asyncpg.Connection, states: Iterable[tuple[str, dict[str, Any], datetime]]
) -> None:
    """Upsert (home_id, state, through) rows in one statement."""
    rows = list(states)
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO detector_state (home_id, state, through, saved_at)
        SELECT h, s::jsonb, t, now() FROM unnest($1::text[], $2::text[], $3::timestamptz[])
            AS x(h, s, t)
        ON CONFLICT (home_id) DO UPDATE
            SET state = EXCLUDED.state, through = EXCLUDED.through, saved_at = now()
        """,
        [r[0] for r in rows], [json.dumps(r[1], separators=(",", ":")) for r in rows],
        [r[2] for r in rows],
    )  # fmt: skip


async def load_detector_states(
    conn: asyncpg.Connection,
) -> dict[str, tuple[dict[str, Any], datetime]]:
    """Every saved home state with the event time it reflects."""
    rows = await conn.fetch("SELECT home_id, state::text AS state, through FROM detector_state")
    return {r["home_id"]: (json.loads(r["state"]), r["through"]) for r in rows}


@dataclass(frozen=True, slots=True)
class AwayPeriod:
    """A declared absence: the resident is not at home from start to end."""

    home_id: str
    starts_at: datetime
    ends_at: datetime
    note: str | None = None


async def add_away_period(conn: asyncpg.Connection, period: AwayPeriod, declared_by: str) -> None:
    """Record a declared absence."""
    await conn.execute(
        "INSERT INTO away_periods (home_id, starts_at, ends_at, note, declared_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        period.home_id, period.starts_at, period.ends_at, period.note, declared_by,
    )  # fmt: skip


async def current_away_periods(conn: asyncpg.Connection, now: datetime) -> list[AwayPeriod]:
    """Away periods that have not ended by `now`."""
    rows = await conn.fetch(
        "SELECT home_id, starts_at, ends_at, note FROM away_periods WHERE ends_at > $1", now
    )
    return [AwayPeriod(r["home_id"], r["starts_at"], r["ends_at"], r["note"]) for r in rows]
