"""API errors: every failure a client can cause becomes a JSON body naming what was wrong.

Shape: {"error": {"status": 422, "code": "invalid", "message": "...", "field": "outcome"}}.
Never a stack trace: anything unexpected is logged here and answered with a plain 500.
"""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """An error with an HTTP status, a stable machine code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        error: dict[str, object] = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }
        if self.field is not None:
            error["field"] = self.field
        return web.json_response({"error": error}, status=self.status, headers=self.headers)


def bad_request(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, "bad_request", message, field)


def invalid(message: str, field: str | None = None) -> ApiError:
    return ApiError(422, "invalid", message, field)


def not_found(what: str) -> ApiError:
    """Also the answer for anything outside the caller's homes: it reveals nothing."""
    return ApiError(404, "not_found", f"{what} not found")


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def unauthorized(message: str = "sign in first") -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(message: str = "your role may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)
