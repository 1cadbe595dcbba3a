"""How long each kind of data is kept, and what is due to go (admins; the console's
administration page shows it). Counts only: no one's data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pydantic

from api.principal import ADMIN_ONLY
from api.routing import Call, Route
from core.retention import COVERS
from storage.retention import due


class KindJson(pydantic.BaseModel):
    kind: str = pydantic.Field(examples=["readings"])
    covers: str
    keep_days: int
    cutoff: datetime = pydantic.Field(description="data from before this goes at the next run")
    oldest: datetime | None
    due_rows: int


class RetentionJson(pydantic.BaseModel):
    kinds: list[KindJson]


async def retention_get(call: Call[Any]) -> Mapping[str, Any]:
    """Each kind of data: days kept, cutoff, oldest row, rows due."""
    async with call.ctx.pool.acquire() as conn:
        found = await due(conn, call.ctx.retention, call.ctx.wall_clock.now())
    return {
        "kinds": [
            {"kind": d.kind, "covers": COVERS[d.kind], "keep_days": d.keep_days,
             "cutoff": d.cutoff, "oldest": d.oldest, "due_rows": d.due_rows}
            for d in found
        ]
    }  # fmt: skip


def routes() -> list[Route]:
    """The retention policy."""
    return [
        Route("GET", "/api/v1/retention", retention_get, "Data retention: periods and what is due",
              "residents", ADMIN_ONLY, response_model=RetentionJson, errors=(401, 403)),
    ]  # fmt: skip
