"""Server exceptions, each carrying its HTTP status, and the one handler that renders them.

Every error answer has the body that PROTOCOL.md fixes: ``{"path": "<url path>",
"message": "<text>"}`` — except on the OpenTelemetry receiver's paths (:data:`OTLP_PATHS`),
where it is what OTLP/HTTP clients parse: a ``google.rpc.Status`` (``code`` = the gRPC
code of the HTTP status, ``message``), in protobuf when the request was protobuf, else in
JSON. :func:`error_body` decides, for the handlers here and for the middleware in
``limits.py`` alike. The tree::

    ServerError
    ├── BadRequest             400  malformed input (bad JSON, corrupt gzip, bad id)
    ├── Unauthorized           401  missing / invalid / expired credentials
    ├── Forbidden              403  credentials valid, resource in another project
    ├── NotFound               404  unknown session (or one the caller may not see)
    ├── PayloadTooLarge        413  body or batch over the limit
    ├── UnsupportedMediaType   415  Content-Encoding other than identity/gzip
    ├── Unprocessable          422  well-formed JSON that violates the schema
    └── ServiceUnavailable     503  database busy or unreachable (with Retry-After)

The database's own errors are mapped here too: a refused value (``DataError``) is a 422,
a constraint (``IntegrityError``) a 409, an outage (``OperationalError``, an exhausted
pool) a 503 with ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "ERROR_RESPONSES",
    "OTLP_PATHS",
    "BadRequest",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "error_body",
    "error_response",
    "install_error_handlers",
]

logger = logging.getLogger("agentwatch.server")


class ServerError(Exception):
    """An error with an HTTP status; ``message`` is shown to the client as is, ``details``
    (JSON values) beside it in the body (v2 paths only: OTLP's Status has no room)."""

    status_code = 500
    headers: dict[str, str] | None = None

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ServerError):
    status_code = 400


class Unauthorized(ServerError):
    status_code = 401


class Forbidden(ServerError):
    status_code = 403


class NotFound(ServerError):
    status_code = 404


class PayloadTooLarge(ServerError):
    status_code = 413


class UnsupportedMediaType(ServerError):
    status_code = 415


class Unprocessable(ServerError):
    status_code = 422


class ServiceUnavailable(ServerError):
    status_code = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message, None)
        self.headers = {"Retry-After": str(retry_after)}


class ErrorBody(BaseModel):
    """An error answer: ``{"path", "message"}`` (v2 and the read API; a partly refused
    batch adds ``accepted`` and ``refused``), or OTLP's Status ``{"code", "message"}`` on
    the receiver's paths."""

    model_config = ConfigDict(extra="allow")
    message: str
    path: str | None = None
    code: int | None = None


#: The error answers every route may give, for the OpenAPI document (FastAPI's own 422
#: shape is replaced: every 422 here is an ErrorBody).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "malformed input (bad JSON, corrupt gzip, an undecodable cursor)"),
        (401, "missing, invalid or expired credentials"),
        (403, "credentials valid, resource in another project (or a refused Origin)"),
        (404, "unknown session (or one the caller may not see)"),
        (405, "method not allowed"),
        (409, "the request conflicts with what is stored"),
        (413, "body or batch over the limit"),
        (415, "Content-Encoding or Content-Type not accepted"),
        (422, "well-formed input that violates the schema, naming the field"),
        (429, "throttled: retry after Retry-After seconds"),
        (503, "overloaded or database unavailable: retry after Retry-After seconds"),
    )
}


# The OTLP/HTTP receiver's paths (routes/otlp.py): errors there are OTLP's Status.
OTLP_PATHS = frozenset({"/v1/traces", "/v1/logs", "/v1/metrics", "/api/public/otel/v1/traces"})
_PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
# HTTP status -> gRPC status code, for google.rpc.Status (OTLP/HTTP answers carry one).
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 408: 4, 413: 8, 415: 3, 422: 3, 429: 8, 503: 14}


def is_protobuf(content_type: str | None) -> bool:
    """Whether a Content-Type header names protobuf (OTLP's binary encoding)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in _PROTOBUF_TYPES


def error_body(
    path: str, content_type: str | None, status_code: int, message: str
) -> tuple[bytes, str]:
    """(body, its Content-Type) of an error answer to a request for ``path`` whose body
    had ``content_type``: OTLP's Status on :data:`OTLP_PATHS`, the protocol's JSON elsewhere."""
    if path not in OTLP_PATHS:
        return json.dumps({"path": path, "message": message}).encode(), "application/json"
    code = _GRPC_CODES.get(status_code, 2 if status_code < 500 else 13)  # UNKNOWN / INTERNAL
    if is_protobuf(content_type):
        from google.rpc.status_pb2 import Status

        return Status(code=code, message=message).SerializeToString(), "application/x-protobuf"
    return json.dumps({"code": code, "message": message}).encode(), "application/json"


def error_response(
    path: str,
    status_code: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Response:
    """The error answer for ``path`` (see :func:`error_body`) with ``status_code``."""
    if path not in OTLP_PATHS:
        fields = {"path": path, "message": message, **(details or {})}
        return JSONResponse(fields, status_code, headers=headers)
    body, media_type = error_body(path, content_type, status_code, message)
    return Response(body, status_code, headers=headers, media_type=media_type)


#: Paths of the machine-facing APIs: their errors are JSON (or OTLP's Status) whoever asks.
_API_PREFIXES = ("/api/", "/v1/", "/v2/", "/v3/", "/v4/")

#: What renders an error as a page for a browser: ``(request, status, message, headers)``;
#: the app sets it (the dashboard's renderer) in ``app.state.error_page``.
ErrorPage = Callable[[Request, int, str, Mapping[str, str] | None], Response]


def _wants_page(request: Request) -> bool:
    """A browser asking for a dashboard page (not the JSON of one, not an API)."""
    return (
        request.method == "GET"
        and request.headers.get("accept", "").startswith("text/html")
        and request.query_params.get("format") != "json"
        and not request.url.path.startswith(_API_PREFIXES)
    )


def _respond(
    request: Request,
    status_code: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> Response:
    error_page: ErrorPage | None = getattr(request.app.state, "error_page", None)
    if error_page is not None and _wants_page(request):
        try:
            return error_page(request, status_code, message, headers)
        except Exception:  # the page itself failed: the JSON answer still says what was wrong
            logger.exception("rendering the error page for %s", request.url.path)
    content_type = request.headers.get("content-type")
    return error_response(request.url.path, status_code, message, headers, content_type, details)


def describe_validation_errors(errors: Sequence[Any]) -> tuple[int, str]:
    """Turn FastAPI/pydantic validation errors into (status, one readable message).

    Unparseable JSON is a 400; everything else is a 422 naming each field by its
    location (``session.init_timestamp: Input should be a valid datetime``).
    """
    parts: list[str] = []
    for error in errors:
        if error.get("type") == "json_invalid":
            return 400, "malformed JSON body: " + str(error.get("ctx", {}).get("error", "invalid"))
        where = _location(error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid value')}")
    return 422, "; ".join(parts[:10]) or "invalid request"


def _location(loc: Sequence[Any]) -> str:
    """``("body", "events", 3, "id")`` as ``events[3].id``, the way wire.py names fields."""
    text = ""
    for part in loc:
        if part == "body" and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


async def _server_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServerError)
    return _respond(request, exc.status_code, exc.message, exc.headers, exc.details)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    status, message = describe_validation_errors(exc.errors())
    return _respond(request, status, message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _respond(request, exc.status_code, str(exc.detail), exc.headers)


async def _database_error(request: Request, exc: Exception) -> Response:
    # A locked SQLite file, an unreachable PostgreSQL or an exhausted connection pool is
    # transient: 503 + Retry-After tells SDKs to retry the same batch (ingest is idempotent).
    logger.warning("database error on %s: %s", request.url.path, exc)
    return _respond(request, 503, "database unavailable, retry later", {"Retry-After": "1"})


async def _refused_by_database(request: Request, exc: Exception) -> Response:
    # The validation layer (jsonbody, wire) refuses what the columns cannot hold; should a
    # value still slip past it, the database's refusal is the client's error, not ours,
    # and not a reason to retry: a 4xx that says which rule, never a 500 or a 503.
    logger.warning("database refused a value on %s: %s", request.url.path, exc)
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
    if isinstance(exc, IntegrityError):
        return _respond(request, 409, f"the request conflicts with what is stored: {reason}")
    return _respond(request, 422, f"a value does not fit what the database stores: {reason}")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s", request.url.path)
    return _respond(request, 500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception the app can raise through the one error shape."""
    app.add_exception_handler(ServerError, _server_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(DataError, _refused_by_database)
    app.add_exception_handler(IntegrityError, _refused_by_database)
    app.add_exception_handler(Exception, _unexpected_error)
