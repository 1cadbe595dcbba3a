"""The API's own description: GET /api/v1/openapi.json."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

from api.openapi import build_openapi
from api.routing import ROUTES, Call, Route

TITLE = "Eldercare monitoring API"


def _version() -> str:
    try:
        return metadata.version("eldercare")
    except metadata.PackageNotFoundError:
        return "0"


async def openapi(call: Call[Any]) -> Mapping[str, Any]:
    """The OpenAPI 3.1 document of every route this app serves."""
    table = call.request.app[ROUTES]
    return build_openapi(table, title=TITLE, version=_version())


def routes() -> list[Route]:
    """The description route (public: it holds no data)."""
    return [
        Route("GET", "/api/v1/openapi.json", openapi, "This API's OpenAPI document", "meta",
              frozenset(), errors=()),
    ]  # fmt: skip
