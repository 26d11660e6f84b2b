"""One error shape for every failure: ``{"error": {"code": ..., "reason": ...}}``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("kameng.api")


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    reason: str
    detail: Any = None


class ErrorResponse(msgspec.Struct, frozen=True):
    error: ErrorBody


class ApiError(HTTPException):
    """A failure the caller can act on: an HTTP status, a stable code and a readable reason."""

    def __init__(self, status_code: int, code: str, reason: str, *, headers: dict[str, str] | None = None, detail: Any = None) -> None:
        super().__init__(status_code=status_code, detail=reason, headers=headers)
        self.code = code
        self.reason = reason
        self.extra = detail


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def _respond(status: int, code: str, reason: str, detail: Any = None, headers: dict[str, str] | None = None) -> Response:
    return Response(
        ErrorResponse(ErrorBody(code, reason, detail)),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ApiError):
        return _respond(exc.status_code, exc.code, exc.reason, exc.extra, exc.headers)
    status = exc.status_code
    if isinstance(exc, ValidationException):
        # Litestar reports body/parameter validation failures as 400; keep its detail list.
        return _respond(400, "invalid_request", str(exc.detail), exc.extra or None)
    if status >= 500:
        return handle_unexpected(request, exc)
    return _respond(status, _DEFAULT_CODES.get(status, "error"), str(exc.detail), None, exc.headers)


def handle_unexpected(request: Request, exc: Exception) -> Response:
    from infra.db.engine import is_unavailable

    if isinstance(exc, RecursionError | UnicodeDecodeError):
        # Raised while the request body is read: JSON nested past the decoder's limit, or
        # bytes that are not UTF-8. The client's fault, and nothing was done.
        reason = "the body nests too deeply to read" if isinstance(exc, RecursionError) else "the body is not valid UTF-8"
        return _respond(400, "malformed_body", reason)
    if is_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _respond(
            503, "database_unavailable", "the database cannot be reached right now; nothing was changed, try again shortly",
            None, {"Retry-After": "2"},
        )
    correlation = uuid.uuid4().hex
    log.exception("unexpected failure %s on %s %s", correlation, request.method, request.url.path, exc_info=exc)
    return _respond(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        f"an unexpected error occurred; quote {correlation} when reporting it",
        {"correlation_id": correlation},
    )


def error_responses(*statuses: int) -> dict[int, "ResponseSpec"]:
    """OpenAPI entries for the errors a route can answer, all in the one error shape."""
    from litestar.openapi.datastructures import ResponseSpec

    descriptions = {
        400: "The request is malformed", 401: "Not signed in, or the session ended",
        403: "The policy refuses this", 404: "No such thing, or outside your scope",
        409: "It conflicts with the current state", 422: "The request cannot be carried out as asked",
        429: "Too many attempts", 503: "A dependency is unavailable",
    }
    # Any route with parameters or a body can answer 400 when they do not validate, and any
    # route can find the database (or Temporal) out of reach for a moment.
    return {s: ResponseSpec(data_container=ErrorResponse, description=descriptions[s]) for s in sorted({400, 503, *statuses})}


COMMON_ERRORS = (400, 401, 403, 404, 409, 422)

EXCEPTION_HANDLERS = {
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


async def refuse_nul_characters(request: Request) -> None:
    """A NUL character in a path, query or body is refused up front: PostgreSQL cannot store
    one, and a text that reached a workflow would fail its activities on every retry."""
    if "\x00" in request.scope["path"] or b"%00" in request.scope.get("query_string", b""):
        raise ApiError(400, "nul_character", "the path or query contains a NUL character")
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()
        if b"\x00" in body or b"\\u0000" in body:
            raise ApiError(400, "nul_character", "the body contains a NUL character, which no field accepts")
