"""The audit log for the people who answer for it: admins see every entry, a street
office's supervisor the entries about their street's homes (read or asked for).
Filters: user, home, action, outcome, time; newest first; and the same as CSV."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import pydantic
from aiohttp import web

from api.context import AUDIT
from api.errors import invalid
from api.principal import MANAGERS, Principal, Role
from api.routes.homes import HomeId
from api.routing import Call, Route
from core.csv_cells import csv_writer
from storage.audit import AuditFilter, list_entries, stream_entries
from storage.scope import scope_condition

FLUSH_WAIT_SECONDS = 5.0
# An export holds at most this many entries (a year of a street's reads); narrow the
# filter for more.
MAX_EXPORT_ROWS = 200_000
CSV_COLUMNS = (
    "id", "at", "username", "action", "outcome", "reason", "home_ids", "requested_home",
    "resource",
)  # fmt: skip


class AuditQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    username: str | None = pydantic.Field(default=None, min_length=1, max_length=64)
    home_id: HomeId | None = None
    action: str | None = pydantic.Field(
        default=None,
        min_length=1,
        max_length=64,
        description='exact ("home.readings"), or a prefix ending in a dot ("home.")',
    )
    outcome: Literal["read", "refused"] | None = None
    since: pydantic.AwareDatetime | None = None
    until: pydantic.AwareDatetime | None = None
    limit: int = pydantic.Field(default=100, ge=1, le=500)
    before_id: int | None = pydantic.Field(default=None, ge=1, le=2**63 - 1)


class AuditEntryJson(pydantic.BaseModel):
    id: int
    at: datetime
    username: str
    action: str
    resource: str
    home_id: str | None = pydantic.Field(description="the one home of a one-home read")
    home_ids: list[str] = pydantic.Field(description="every home whose data was returned")
    requested_home: str | None = pydantic.Field(description="the home the request named")
    outcome: Literal["read", "refused"]
    reason: str | None = pydantic.Field(description="why refused (an error code)")


class AuditPage(pydantic.BaseModel):
    entries: list[AuditEntryJson]
    next_before_id: int | None


def _visible(user: Principal) -> tuple[str, list[Any]] | None:
    """The homes whose entries the reader may see (None: every entry)."""
    if user.role is Role.ADMIN:
        return None
    condition, args = scope_condition(user.scope, "h.id", 1)
    return f"SELECT h.id FROM homes h WHERE {condition}", list(args)


def _filter(q: AuditQuery, before_id: int | None) -> AuditFilter:
    if q.since is not None and q.until is not None and q.until <= q.since:
        raise invalid("until must be after since", "until")
    return AuditFilter(
        username=q.username, home_id=q.home_id, action=q.action, outcome=q.outcome,
        since=q.since, until=q.until, before_id=before_id,
    )  # fmt: skip


async def _flushed(call: Call[Any]) -> None:
    # Show what has been read so far, but a writer far behind must not hang the reader.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(call.request.app[AUDIT].flush(), FLUSH_WAIT_SECONDS)


async def get_audit(call: Call[Any]) -> Mapping[str, Any]:
    """A page of matching entries, newest first (everything recorded so far included)."""
    q: AuditQuery = call.query
    wanted = _filter(q, q.before_id)
    await _flushed(call)
    async with call.ctx.pool.acquire() as conn:
        entries = await list_entries(
            conn, limit=q.limit + 1, wanted=wanted, visible_homes=_visible(call.user)
        )
    more = len(entries) > q.limit
    page = entries[: q.limit]
    return {"entries": page, "next_before_id": page[-1].id if more else None}


async def get_audit_csv(call: Call[Any]) -> web.StreamResponse:
    """Every matching entry (up to MAX_EXPORT_ROWS) as CSV, written as it is read."""
    q: AuditQuery = call.query
    wanted = _filter(q, q.before_id)
    await _flushed(call)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="audit.csv"',
        }
    )
    await response.prepare(call.request)
    # The byte-order mark makes spreadsheet programs read non-ASCII names right.
    await response.write("\ufeff".encode())
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    async with call.ctx.pool.acquire() as conn, conn.transaction(readonly=True):
        rows = stream_entries(conn, wanted, _visible(call.user), MAX_EXPORT_ROWS)
        async for entry in rows:
            writer.writerow(
                [entry.id, entry.at.isoformat(), entry.username, entry.action, entry.outcome,
                 entry.reason or "", " ".join(entry.home_ids), entry.requested_home or "",
                 entry.resource]
            )  # fmt: skip
            if buffer.tell() > 64 * 1024:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


def routes() -> list[Route]:
    """The audit view (admins: everything; supervisors: their street's homes)."""
    return [
        Route("GET", "/api/v1/audit", get_audit, "Who read or was refused which homes' data",
              "audit", MANAGERS, query_model=AuditQuery, response_model=AuditPage,
              errors=(401, 403, 422)),
        Route("GET", "/api/v1/audit.csv", get_audit_csv, "The audit entries as CSV", "audit",
              MANAGERS, query_model=AuditQuery, content_type="text/csv",
              errors=(401, 403, 422)),
    ]  # fmt: skip
