"""The error shape and where errors become responses.

Every error leaves as `{"error": {"code": ..., "message": ...}}` (K4, F8). Another
user's resource answers 404, never 403, so existence does not leak (K5).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import psycopg.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from studio.auth.identity import Unauthenticated
from studio.http.openapi import allowed_methods
from studio.storage.base import StorageError

log = logging.getLogger("studio.http")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def error_response(status: int, code: str, message: str, *, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response(orjson.dumps({"error": body}), status_code=status, headers=headers, media_type="application/json")



_STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited"}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        # Echo where and what, never the offending input itself.
        details.append({"loc": [str(p) for p in err.get("loc", ())], "type": err.get("type"), "msg": err.get("msg")})
    return details


def database_error(exc: psycopg.Error) -> ApiError:
    """Constraint and privilege errors the database raised on the user's behalf."""
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        # RLS refused the row: to the caller it does not exist.
        return not_found()
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return ApiError(409, "conflict", "a resource with these values already exists")
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        primary = exc.diag.message_primary or ""
        if primary.startswith("insert or update"):
            # The addressed resource exists; the body names one that does not (or is
            # another user's, which is the same answer): the body is what is wrong.
            return ApiError(422, "validation_error", "the request refers to a resource that does not exist")
        return ApiError(409, "conflict", "the resource is still in use")
    if isinstance(exc, psycopg.errors.UntranslatableCharacter) or (
            type(exc) is psycopg.DataError and exc.sqlstate is None):
        # A value PostgreSQL cannot store, whichever field, query or JSON document brought
        # it: the NUL character (psycopg refuses it in text before sending; the server in
        # jsonb as \u0000). One place for every input, rather than a check per field.
        return ApiError(422, "validation_error", "text cannot contain the NUL character (\\u0000)")
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.NotNullViolation,
                        psycopg.errors.StringDataRightTruncation, psycopg.errors.InvalidTextRepresentation,
                        psycopg.errors.NumericValueOutOfRange, psycopg.errors.InvalidDatetimeFormat)):
        return ApiError(422, "validation_error", f"rejected by the database: {exc.diag.constraint_name or exc.sqlstate}")
    raise exc


def _method_not_allowed(allowed: list[str]) -> Response:
    return error_response(405, "method_not_allowed", "this path does not take this method",
                          headers={"Allow": ", ".join(allowed)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        return error_response(401, "unauthenticated", "sign in, or send a valid API key")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            # DELETE /v1/notifications/read-all reached the pattern route because the
            # literal path does not take DELETE: the answer is 405, not a bad id.
            allowed = allowed_methods(request.app, request.url.path)
            if allowed is not None and request.method not in allowed:
                return _method_not_allowed(allowed)
        status = 400 if any(e.get("type") == "json_invalid" for e in exc.errors()) else 422
        code = "malformed_json" if status == 400 else "validation_error"
        return error_response(status, code, "the request is not valid", details=_validation_details(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route with the path only;
            # a path served by several routes (GET in one, DELETE in another) takes all.
            return _method_not_allowed(allowed_methods(request.app, request.url.path) or [])
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        return error_response(exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(psycopg.Error)
    async def _database(request: Request, exc: psycopg.Error) -> Response:
        try:
            mapped = database_error(exc)
        except psycopg.Error:
            if isinstance(exc, psycopg.OperationalError):
                # The server went away (restart, failover) or gave up on the statement:
                # transient, so answered like an exhausted pool, not as a server bug.
                log.warning("database unavailable (%s)", type(exc).__name__,
                            extra={"request_id": request.state.request_id})
                return error_response(503, "unavailable", "the database is unavailable, retry shortly",
                                      headers={"Retry-After": "1"})
            log.exception("database error", extra={"request_id": request.state.request_id})
            return error_response(500, "internal_error", "internal error")
        return error_response(mapped.status, mapped.code, mapped.message)

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, exc: PoolTimeout) -> Response:
        return error_response(503, "unavailable", "the server is busy, retry shortly", headers={"Retry-After": "1"})

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> Response:
        if type(exc) is not StorageError:  # ObjectNotFound & co. are the caller's to handle: a bug
            log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
            return error_response(500, "internal_error", "internal error")
        # The store failed (disk full, S3 unreachable) and the operation had no effect:
        # transient for the client, for the operator to fix (the reason is in the log).
        log.error("storage unavailable: %s", exc, extra={"request_id": getattr(request.state, "request_id", None)})
        return error_response(503, "storage_unavailable", "the file store is unavailable, retry shortly",
                              headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
        return error_response(500, "internal_error", "internal error")
