"""The API's own description: GET /api/v1/openapi.json."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

from api.openapi import build_openapi
from api.routing import ROUTES, Call, Route
from core import explain
from core.contacts import Language

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


def _by_language(table: Mapping[str, Mapping[Language, str]]) -> dict[str, dict[str, str]]:
    return {lang.value: {key: texts[lang] for key, texts in table.items()} for lang in Language}


async def texts(call: Call[Any]) -> Mapping[str, Any]:
    """The explanation templates per kind, in each language (core/explain.py), so the
    console says what the SMS says."""
    return {
        "templates": _by_language(explain.TEMPLATES),
        "routine_features": _by_language(explain.ROUTINE_FEATURES),
        "rooms": _by_language(explain.ROOMS),
        "device_types": _by_language(explain.DEVICE_TYPES),
        "channels": _by_language(explain.CHANNELS),
        "contact_roles": _by_language(explain.CONTACT_ROLES),
    }


def routes() -> list[Route]:
    """The description routes (public: they hold no one's data)."""
    return [
        Route("GET", "/api/v1/openapi.json", openapi, "This API's OpenAPI document", "meta",
              frozenset(), errors=()),
        Route("GET", "/api/v1/texts", texts, "Explanation templates per kind and language",
              "meta", frozenset(), errors=()),
    ]  # fmt: skip
