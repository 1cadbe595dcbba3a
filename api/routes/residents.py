"""A resident's rights (admins only): a copy of everything stored about them and their
home, and erasure when their service ends. Both audited: the export before its first
byte goes out, the erasure in the same transaction that erases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pydantic
from aiohttp import web

from api.errors import conflict, not_found
from api.principal import ADMIN_ONLY
from api.routing import Call, NoModel, Route
from storage.erasure import ErasureRefused, erase_resident
from storage.resident_export import export_resident, resident_home

MAX_ID = 2**63 - 1
# Pieces of the export gathered before each write to the client.
WRITE_BLOCK_CHARS = 64 * 1024


class ResidentPath(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    resident_id: int = pydantic.Field(ge=1, le=MAX_ID)


class ErasureJson(pydantic.BaseModel):
    resident_id: int
    home_id: str
    erased_at: datetime = pydantic.Field(description="when first erased (a repeat keeps it)")
    erased_by: str
    removed: dict[str, int] = pydantic.Field(
        description="rows deleted or cleared now, per table (a repeat: what arrived since)"
    )


async def export_get(call: Call[Any]) -> web.StreamResponse:
    """Stream the export as one JSON object, readings last."""
    resident_id: int = call.path.resident_id
    async with call.ctx.pool.acquire() as conn:
        home_id = await resident_home(conn, resident_id)
        if home_id is None:
            raise not_found("resident")
        await call.record_read("resident.export", home_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Content-Disposition": f'attachment; filename="resident-{resident_id}.json"',
            }
        )
        await response.prepare(call.request)
        block: list[str] = []
        size = 0
        async for piece in export_resident(conn, resident_id, home_id, call.ctx.wall_clock.now()):
            block.append(piece)
            size += len(piece)
            if size >= WRITE_BLOCK_CHARS:
                await response.write("".join(block).encode())
                block, size = [], 0
        await response.write("".join(block).encode())
        await response.write_eof()
    return response


async def erase_post(call: Call[Any]) -> Mapping[str, Any]:
    """Erase the resident and their home's data; the audit keeps the erasure."""
    resident_id: int = call.path.resident_id
    async with call.ctx.pool.acquire() as conn:
        try:
            report = await erase_resident(
                conn, resident_id, call.user.username, call.ctx.wall_clock.now()
            )
        except ErasureRefused as refused:
            raise conflict(str(refused)) from None
    if report is None:
        raise not_found("resident")
    call.audit_home(report.home_id)
    return {
        "resident_id": report.resident_id,
        "home_id": report.home_id,
        "erased_at": report.erased_at,
        "erased_by": report.erased_by,
        "removed": dict(report.rows),
    }


def routes() -> list[Route]:
    """Export and erasure."""
    resident, admin, tag = "/api/v1/residents/{resident_id}", ADMIN_ONLY, "residents"
    return [
        Route("GET", f"{resident}/export", export_get,
              "Everything stored about a resident and their home (JSON, streamed)", tag, admin,
              path_model=ResidentPath, audit="resident.export", errors=(401, 403, 404, 422)),
        Route("POST", f"{resident}/erase", erase_post,
              "Erase a resident and their home's data (the audit log keeps the erasure)",
              tag, admin, path_model=ResidentPath, body_model=NoModel,
              response_model=ErasureJson, audit="resident.erase",
              errors=(401, 403, 404, 409, 422)),
    ]  # fmt: skip
