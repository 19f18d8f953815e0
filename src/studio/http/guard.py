"""RequestGuard: request ids, the access log, the body-size limit, JSON-only bodies."""

from __future__ import annotations

import logging
import re
import time
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from studio.monitoring.logs import request_id_var

# One line per request (method, route, status, duration, request id); probes excluded.
access_log = logging.getLogger("studio.access")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Paths that carry a secret (the first admin's setup token): logged as their route.
_SECRET_PATH_PREFIXES = ("/v1/setup/",)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class RequestGuard:
    """Pure ASGI middleware (no per-request task overhead): assigns the request id, and
    refuses bodies over the limit, counted while streaming, and non-JSON bodies."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, raw_body_paths: tuple[str, ...] = (),
                 raw_body_routes: tuple[re.Pattern[str], ...] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Endpoints that take a raw file body and enforce their own limit while streaming:
        # by path prefix, or by a pattern of the whole path (a path with an id in it).
        self.raw_body_paths = raw_body_paths
        self.raw_body_routes = raw_body_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)  # every log line of this request carries it
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self._guarded(scope, receive, send_with_id, headers)
        finally:
            if scope["path"] not in _QUIET_PATHS:
                route = scope.get("route")
                path = scope["path"]
                if path.startswith(_SECRET_PATH_PREFIXES):
                    path = getattr(route, "path", None) or "/v1/setup/{token}"
                access_log.info("%s %s %d", scope["method"], path, status, extra={
                    "method": scope["method"], "route": getattr(route, "path", None), "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            request_id_var.reset(token)

    async def _guarded(self, scope: Scope, receive: Receive, send_with_id: Send, headers: dict[str, str]) -> None:
        path = scope["path"]
        if (self.raw_body_paths and path.startswith(self.raw_body_paths)) or any(
                route.fullmatch(path) for route in self.raw_body_routes):
            await self.app(scope, receive, send_with_id)
            return

        if scope["method"] not in _SAFE_METHODS:
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                await _send_error(send_with_id, 413, "payload_too_large",
                                  f"request body exceeds {self.max_body_bytes} bytes")
                return
            content_type = headers.get("content-type", "")
            has_body = declared not in (None, "0") or "transfer-encoding" in headers
            if has_body and content_type.split(";")[0].strip().lower() != "application/json":
                await _send_error(send_with_id, 415, "unsupported_media_type",
                                  "request bodies must be application/json")
                return

        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not refused:
                    # Answer now and let the app see a disconnect: whatever it tries
                    # to send afterwards is dropped by guarded_send.
                    refused = True
                    await _send_error(send_with_id, 413, "payload_too_large",
                                      f"request body exceeds {self.max_body_bytes} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send_with_id(message)

        await self.app(scope, limited_receive, guarded_send)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
