"""Erasing a resident when their service ends (issue 13, point 8; PIPL art. 47): their
readings, what was found and learnt from them, the personal text of alerts and of the
messages sent about them, who was told about the home, their profile and the home's exact
address. What stays: the rows' existence (ids, times, severities, outcomes: the record
that care was given, without the content), the devices (uninstalled separately), and the
audit log, which gains an entry for the erasure in the same transaction.

Erasing again is harmless: it removes whatever arrived since (a device not yet
uninstalled) and records that it ran.

Alert history is append-only; its trigger lets the erasure clear the free text of an
entry (comments may name people) only inside a transaction that sets
`eldercare.lifecycle = 'erasure'` (migration 060), which only this module does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from storage.audit import AuditEntry, insert_entries

ERASED = "(erased)"


class ErasureRefused(Exception):
    """The resident cannot be erased alone (their home's data is also another's)."""


@dataclass(slots=True)
class ErasureReport:
    """What one erasure removed or cleared, per table; when the resident was erased
    first (the same on a repeat)."""

    resident_id: int
    home_id: str
    erased_at: datetime
    erased_by: str
    rows: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """`readings=120 findings=3 ...`, for the audit entry and the command line."""
        return " ".join(f"{table}={count}" for table, count in sorted(self.rows.items()))


def _count(status: str) -> int:
    return int(status.split()[-1])


# (table name in the report, SQL with $1 = the home)
_STEPS = (
    ("readings", "DELETE FROM readings WHERE home_id = $1"),
    ("findings", "DELETE FROM findings WHERE home_id = $1"),
    ("detector_state", "DELETE FROM detector_state WHERE home_id = $1"),
    ("dead_letters", "DELETE FROM dead_letters WHERE device_id IN"
                     " (SELECT id FROM devices WHERE home_id = $1)"),
    ("away_periods", "DELETE FROM away_periods WHERE home_id = $1"),
    ("alert_contacts", "DELETE FROM alert_contacts WHERE home_id = $1"),
    ("alert_history", "UPDATE alert_history SET detail = '{}' WHERE detail <> '{}' AND alert_id"
                      " IN (SELECT id FROM alerts WHERE home_id = $1)"),
    # Open alerts about someone no longer served: resolved, so nobody is called.
    ("alerts_resolved", "WITH closing AS (UPDATE alerts SET state = 'resolved', resolved_at = $2,"
                        " resolved_by = $3, outcome = 'other', escalation_due_at = NULL"
                        " WHERE home_id = $1 AND state <> 'resolved' RETURNING id)"
                        " INSERT INTO alert_history (alert_id, at, actor, action, to_state, detail)"
                        " SELECT id, $2, $3, 'resolve', 'resolved', '{\"reason\": \"erased\"}'"
                        " FROM closing"),
    ("alerts", "UPDATE alerts SET explanation = '(erased)', params = '{}',"
               " resolution_note = NULL WHERE home_id = $1 AND explanation <> '(erased)'"),
    ("alert_deliveries", "UPDATE alert_deliveries SET subject = '(erased)', body_text ="
                         " '(erased)', body_html = NULL, summary = '(erased)', address ="
                         " '(erased)', payload = '{}', reply = NULL, status = CASE status"
                         " WHEN 'pending' THEN 'cancelled' ELSE status END"
                         " WHERE home_id = $1 AND status <> 'sending'"
                         " AND body_text <> '(erased)'"),
    ("alert_delivery_attempts", "UPDATE alert_delivery_attempts SET detail = NULL"
                                " WHERE detail IS NOT NULL AND delivery_id IN"
                                " (SELECT id FROM alert_deliveries WHERE home_id = $1)"),
    ("homes", "UPDATE homes SET address = NULL, building = NULL, floor = NULL, unit = NULL"
              " WHERE id = $1 AND (address IS NOT NULL OR building IS NOT NULL"
              " OR floor IS NOT NULL OR unit IS NOT NULL)"),
)  # fmt: skip


async def erase_resident(
    conn: asyncpg.Connection, resident_id: int, actor: str, now: datetime
) -> ErasureReport | None:
    """Erase resident `resident_id` and their home's data; None when there is no such
    resident. Raises ErasureRefused when someone else not erased lives in the home."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT home_id, erased_at, erased_by FROM residents WHERE id = $1 FOR UPDATE",
            resident_id,
        )
        if row is None:
            return None
        home_id: str = row["home_id"]
        others = await conn.fetch(
            "SELECT id FROM residents WHERE home_id = $1 AND id <> $2 AND erased_at IS NULL"
            " ORDER BY id",
            home_id,
            resident_id,
        )
        if others:
            ids = ", ".join(str(r["id"]) for r in others)
            raise ErasureRefused(
                f"home {home_id} also holds resident(s) {ids}: its readings and alerts are"
                " theirs too; erase them all, the last one erases the home's data"
            )
        await conn.execute("SET LOCAL eldercare.lifecycle = 'erasure'")
        report = ErasureReport(resident_id, home_id, row["erased_at"] or now,
                               row["erased_by"] or actor)  # fmt: skip
        for table, sql in _STEPS:
            args = (home_id, now, actor) if table == "alerts_resolved" else (home_id,)
            report.rows[table] += _count(await conn.execute(sql, *args))
        report.rows["residents"] = _count(await conn.execute(
            "UPDATE residents SET display_name = '(erased)', birth_year = NULL, phone = NULL,"
            " key_holder_name = NULL, key_holder_phone = NULL, care_notes = '{}',"
            " erased_at = coalesce(erased_at, $2), erased_by = coalesce(erased_by, $3)"
            " WHERE home_id = $1",
            home_id, now, actor))  # fmt: skip
        await insert_entries(conn, [AuditEntry(now, actor, "resident.erased",
                                               f"resident {resident_id}: {report.summary()}",
                                               home_id=home_id)])  # fmt: skip
    return report
