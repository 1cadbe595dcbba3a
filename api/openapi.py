"""The OpenAPI 3.1 document, generated from the Route records: what is served is what is
documented, because both come from the same table."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pydantic
from pydantic.json_schema import models_json_schema

from api.auth.sessions import COOKIE_NAME, CSRF_HEADER
from api.routing import NoModel, Route

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"
_PARAM_REGEX = re.compile(r"\{(\w+)(:[^}]*)?\}")

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Malformed request (bad JSON, not an object)",
    401: "Not signed in",
    403: "This role may not use the route, or the CSRF token is missing",
    404: "Not found, or outside the caller's homes",
    409: "Conflict (an illegal transition, a duplicate)",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid input; `field` names it",
    429: "Too many failed sign-ins; see Retry-After",
    503: "Not ready",
}


class ErrorDetail(pydantic.BaseModel):
    status: int
    code: str = pydantic.Field(examples=["invalid"])
    message: str
    field: str | None = None


class ErrorBody(pydantic.BaseModel):
    """Every error answer."""

    error: ErrorDetail


def openapi_path(path: str) -> str:
    """aiohttp's `/x/{id:\\d+}` as OpenAPI's `/x/{id}`."""
    return _PARAM_REGEX.sub(r"{\1}", path)


def _operation_id(route: Route) -> str:
    words = re.findall(r"[A-Za-z0-9]+", openapi_path(route.path))
    return "_".join([route.method.lower(), *words])


def _parameters(
    model: type[pydantic.BaseModel], where: str, schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    if model is NoModel:
        return []
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build_openapi(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI document of `routes`."""
    routes = list(routes)
    models: list[tuple[type[pydantic.BaseModel], Any]] = [(ErrorBody, "serialization")]
    for route in routes:
        if route.body_model is not None:
            models.append((route.body_model, "validation"))
        if route.response_model is not None:
            models.append((route.response_model, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    error_ref = refs[(ErrorBody, "serialization")]

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        success: dict[str, Any] = {"description": _STATUS_TEXT.get(route.status, route.summary)}
        if route.status != 204:
            if route.response_model is not None:
                success["content"] = {
                    route.content_type: {"schema": refs[(route.response_model, "serialization")]}
                }
            else:
                success["content"] = {route.content_type: {"schema": {"type": "string"}}}
        responses = {str(route.status): success}
        for status in route.errors:
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": _json(error_ref),
            }
        operation: dict[str, Any] = {
            "operationId": _operation_id(route),
            "summary": route.summary,
            "tags": [route.tag],
            "parameters": _parameters(route.path_model, "path", schemas)
            + _parameters(route.query_model, "query", schemas),
            "responses": responses,
            "security": [] if route.public else [{"cookieAuth": []}, {"bearerAuth": []}],
        }
        if route.roles:
            roles = ", ".join(sorted(role.value for role in route.roles))
            operation["description"] = f"Roles: {roles}."
        if route.audit:
            operation["description"] = (
                operation.get("description", "") + f" Audited as `{route.audit}`."
            ).strip()
        if route.body_model is not None:
            operation["requestBody"] = {
                "required": route.body_model is not NoModel,
                "content": _json(refs[(route.body_model, "validation")]),
            }
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation

    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE_NAME,
                    "description": "The console's session (POST /api/v1/auth/login). Writes"
                    f" also need the session's CSRF token in the {CSRF_HEADER} header.",
                },
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An integration token (POST /api/v1/users/{username}/tokens).",
                },
            },
        },
    }
