"""Routes as data: one `Route` per endpoint carries its handler, who may call it, and the
models of its path, query and body. The same records drive request validation, the
authorization check, the OpenAPI document and the authorization-matrix test, so a route
cannot exist without a rule and a schema.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pydantic
import pydantic_core
from aiohttp import web

from api.auth.sessions import CSRF_HEADER
from api.auth.tokens import same
from api.context import AUDIT, CONTEXT, ApiContext
from api.errors import ApiError, bad_request, forbidden, invalid, unauthorized
from api.principal import AuthMethod, Principal, Role
from storage.audit import AuditEntry

# Set by the auth middleware (None: anonymous).
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
# Set by a handler whose path names no home (an alert's detail, a list) so the audit
# entry says whose data the answer carried: every home, none for an empty answer.
AUDIT_HOMES: web.RequestKey[tuple[str, ...]] = web.RequestKey("audit_home_ids")
# Set once a handler has written its own entries (a stream): no entry at the end.
AUDIT_RECORDED: web.RequestKey[bool] = web.RequestKey("audit_recorded")
# A refused request is recorded when it names a home or an object (403 and 404): who
# tried to reach what, and why they could not.
REFUSALS_RECORDED = frozenset({403, 404})
MAX_REQUESTED_CHARS = 64
MAX_BODY_BYTES = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

B = TypeVar("B", bound=pydantic.BaseModel)


class NoModel(pydantic.BaseModel):
    """The empty model: a route without path parameters, query or body."""

    model_config = pydantic.ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Call(Generic[B]):
    """One validated request, as a handler sees it."""

    request: web.Request
    principal: Principal | None
    path: Any
    query: Any
    body: B

    @property
    def ctx(self) -> ApiContext:
        return self.request.app[CONTEXT]

    @property
    def user(self) -> Principal:
        """The caller of a route that requires sign-in (the route table guarantees it)."""
        assert self.principal is not None
        return self.principal

    def audit_home(self, home_id: str | None) -> None:
        """Name the one home whose data this answer carries (None: no home's)."""
        self.audit_homes([home_id] if home_id is not None else [])

    def audit_homes(self, home_ids: Iterable[str]) -> None:
        """Name every home whose data this answer carries, for the audit entry."""
        self.request[AUDIT_HOMES] = tuple(dict.fromkeys(home_ids))

    async def record_read(
        self, action: str, home_id: str | None = None, home_ids: Iterable[str] = ()
    ) -> None:
        """Write an audit entry now (streams, which never "finish" successfully); the
        route then writes none of its own."""
        homes = tuple(home_ids) or ((home_id,) if home_id is not None else ())
        self.request[AUDIT_RECORDED] = True
        await _record(self.request, self.user, action, homes, _requested_home(self.request))


Handler = Callable[[Call[Any]], Awaitable[web.StreamResponse | Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint. `roles` empty means public (no sign-in: login, health)."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[Role]
    path_model: type[pydantic.BaseModel] = NoModel
    query_model: type[pydantic.BaseModel] = NoModel
    body_model: type[pydantic.BaseModel] | None = None
    response_model: type[pydantic.BaseModel] | None = None
    status: int = 200
    # Statuses besides `status` this route can answer (documented in OpenAPI).
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)
    content_type: str = "application/json"  # of the success response
    # Set on routes that read a resident's data: the audit log records who read what
    # (e.g. "home.readings"); the home is the path's `home_id` when it has one.
    audit: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        return not self.roles


# The app's route table, for what describes it (the OpenAPI document).
ROUTES: web.AppKey[tuple[Route, ...]] = web.AppKey("routes")


def _validation_error(error: pydantic.ValidationError, where: str) -> ApiError:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    return invalid(f"{where} {location or 'value'}: {first['msg']}", location or None)


def _nul_at(data: Any, location: str = "") -> str | None:
    """Where a NUL character hides in the input, if anywhere: PostgreSQL text cannot hold
    one, so it is refused here rather than failing deep inside a query."""
    if isinstance(data, str):
        return location or "value" if "\x00" in data else None
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        found = _nul_at(value, f"{location}.{key}" if location else str(key))
        if found is not None:
            return found
    return None


def _parse(model: type[pydantic.BaseModel], data: Any, where: str) -> pydantic.BaseModel:
    nul = _nul_at(data)
    if nul is not None:
        raise invalid(f"{where} {nul}: must not contain NUL characters", nul)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise _validation_error(error, where) from None


async def _read_body(request: web.Request, model: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw:
        data: Any = {}
    else:
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the body as application/json")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise bad_request(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object")
    return _parse(model, data, "body")


def _check_csrf(request: web.Request, principal: Principal) -> None:
    """A cookie is sent by the browser whatever page asks; the CSRF token only by our
    console, which read it from /auth/login or /auth/me."""
    if principal.method is not AuthMethod.COOKIE or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent or principal.csrf_token is None or not same(sent, principal.csrf_token):
        raise ApiError(403, "csrf", f"send the session's CSRF token in {CSRF_HEADER}")


def _requested_home(request: web.Request) -> str | None:
    """The home the request names (path, else query), as sent (bounded)."""
    named = request.match_info.get("home_id") or request.query.get("home_id")
    return named[:MAX_REQUESTED_CHARS] if named else None


async def _record(
    request: web.Request,
    principal: Principal,
    action: str,
    home_ids: tuple[str, ...],
    requested: str | None,
    refused: ApiError | None = None,
) -> None:
    context: ApiContext = request.app[CONTEXT]
    entry = AuditEntry(
        context.wall_clock.now(),
        principal.username,
        action,
        request.path_qs,
        home_ids=home_ids,
        requested_home=requested,
        outcome="read" if refused is None else "refused",
        reason=refused.code if refused is not None else None,
    )
    await request.app[AUDIT].record(entry)


async def _record_refusal(
    request: web.Request, principal: Principal, route: Route, error: ApiError
) -> None:
    action = route.audit or f"{route.method} {route.path}"
    await _record(request, principal, action, (), _requested_home(request), error)


def bind(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for a route: check the caller, validate, call, serialise,
    and write the audit entry of a successful read."""

    async def handle(request: web.Request) -> web.StreamResponse:
        principal: Principal | None = request.get(PRINCIPAL)
        if not route.public and principal is None:
            raise unauthorized()
        try:
            if not route.public:
                assert principal is not None
                if principal.role not in route.roles:
                    raise forbidden()
                _check_csrf(request, principal)
            path = _parse(route.path_model, dict(request.match_info), "path")
            query_data = {key: request.query.getone(key) for key in request.query}
            query = _parse(route.query_model, query_data, "query")
            body = await _read_body(request, route.body_model) if route.body_model else NoModel()
            result = await route.handler(Call(request, principal, path, query, body))
        except ApiError as error:
            if principal is not None and not route.public and error.status in REFUSALS_RECORDED:
                await _record_refusal(request, principal, route, error)
            raise
        if route.audit is not None and principal is not None and not request.get(AUDIT_RECORDED):
            path_home = getattr(path, "home_id", None)
            homes = request.get(AUDIT_HOMES, (path_home,) if path_home else ())
            await _record(request, principal, route.audit, homes, _requested_home(request))
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, route.status)

    handle.__name__ = route.handler.__name__
    return handle


def json_response(value: Any, status: int = 200) -> web.Response:
    """JSON with datetimes in ISO 8601, enums as their values, dataclasses and models as
    objects (pydantic-core's encoder, in Rust: the alert list is the hot path)."""
    return web.json_response(body=pydantic_core.to_json(value), status=status)
