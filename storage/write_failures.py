"""What a failed ingest write means: retry at once, wait out an outage, or tell the
operator what the database refuses and what to do about it.

Every database failure in ingest's write loop holds the batch (nothing is acknowledged)
and retries; only the wording and the pace differ. A row the database refuses is not one
of these: the caller isolates it into a dead letter (`is_row_refusal`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import asyncpg

from storage.errors import OUTAGE_ERRORS, URL_SETTING, first_line

INGEST_TABLES = "readings, device_state, dead_letters, dead_letter_counts, pipeline_heartbeats"


class FailureKind(enum.StrEnum):
    """How ingest treats a failed write."""

    CONFLICT = "conflict"  # a deadlock or serialization failure: retry soon, no outage
    OUTAGE = "outage"  # the database is away or the connection broke: wait and retry
    REFUSED = "refused"  # the database answers but will not take the write: an operator acts


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """One failed write, said for the operator: `cause` a short key, `detail` the
    database's own words (first line), `action` what to do."""

    kind: FailureKind
    cause: str
    detail: str
    action: str


def is_row_refusal(error: BaseException) -> bool:
    """A value the database (or asyncpg's encoder) refuses: one row's problem, not the
    database's."""
    if isinstance(error, asyncpg.DataError | asyncpg.IntegrityConstraintViolationError):
        return True
    # asyncpg's client-side encoding error is an InterfaceError and a ValueError.
    return isinstance(error, asyncpg.InterfaceError) and isinstance(error, ValueError)


def classify_write_failure(error: BaseException) -> WriteFailure | None:
    """What a failed write means, or None if it is no database failure (a bug: let it
    raise)."""
    detail = first_line(error)
    if isinstance(error, asyncpg.TransactionRollbackError):
        return WriteFailure(FailureKind.CONFLICT, "conflict", detail,
                            "none: retried at once (rows are merged in key order)")  # fmt: skip
    if isinstance(error, asyncpg.ReadOnlySQLTransactionError):
        return WriteFailure(
            FailureKind.REFUSED, "read_only", detail,
            "the database is read-only (a standby, or default_transaction_read_only is on):"
            f" make it writable or point {URL_SETTING} at the primary",
        )  # fmt: skip
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        return WriteFailure(
            FailureKind.REFUSED, "privilege", detail,
            f"grant ingest's database role INSERT on {INGEST_TABLES}, UPDATE on device_state"
            " and dead_letter_counts, DELETE on pipeline_heartbeats and TEMPORARY on the"
            f" database (or use the schema owner's role in {URL_SETTING})",
        )  # fmt: skip
    if isinstance(error, asyncpg.DiskFullError):
        return WriteFailure(FailureKind.REFUSED, "disk_full", detail,
                            "free disk space on the database server")  # fmt: skip
    if is_row_refusal(error):
        return None
    if isinstance(error, OUTAGE_ERRORS):
        return WriteFailure(FailureKind.OUTAGE, "unavailable", f"{type(error).__name__}: {detail}",
                            "none if the database is restarting; otherwise start it or fix"
                            f" {URL_SETTING}")  # fmt: skip
    if isinstance(error, asyncpg.PostgresError):
        state = getattr(error, "sqlstate", None) or "?"
        return WriteFailure(FailureKind.REFUSED, f"sqlstate_{state}", detail,
                            f"see the database's log for SQLSTATE {state}")  # fmt: skip
    return None
