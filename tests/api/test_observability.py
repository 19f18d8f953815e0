"""Request ids in logs and in the database, and error reporting to a Sentry-protocol
endpoint (a local HTTP server receiving the real envelopes)."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from fastapi import APIRouter, FastAPI, Request
from pydantic import SecretStr
from starlette.responses import Response

from studio.config import API_ROLE
from studio.http.deps import Ctx, Db
from studio.http.responses import json_response
from studio.monitoring.observability import init_error_reporting
from tests.api.conftest import Server, free_port, make_settings, serve

router = APIRouter(prefix="/test-only")


@router.get("/application-name")
async def application_name(db: Db, ctx: Ctx) -> Response:
    async with db.as_anon(ctx) as tx:
        cur = await tx.conn.execute("SELECT current_setting('application_name') AS name")
        row = await cur.fetchone()
    return json_response({"application_name": row["name"] if row else None})


@router.get("/boom")
async def boom(request: Request) -> Response:
    raise RuntimeError("studio-observability-test-failure")


# Set by the test below: ends a backend from outside, as a server restart does.
terminate_backend: list[Callable[[int], None]] = []


@router.get("/connection-lost")
async def connection_lost(db: Db, ctx: Ctx) -> Response:
    async with db.as_anon(ctx) as tx:
        row = await (await tx.conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
        assert row is not None
        terminate_backend[0](row["pid"])
        await tx.conn.execute("SELECT 1")
    return json_response({"unreachable": True})


def _with_probes(app: FastAPI) -> None:
    app.include_router(router)


@pytest.fixture
def probed(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve(make_settings(home=tmp_path), pg.conninfo(API_ROLE, db), customize=_with_probes)


def test_the_request_id_reaches_the_database_and_the_access_log(probed: Server, caplog):
    caplog.set_level(logging.INFO, logger="studio.access")
    with probed.client() as client:
        response = client.get("/test-only/application-name", headers={"X-Request-Id": "req-4242abcd"})
        assert response.status_code == 200 and response.headers["x-request-id"] == "req-4242abcd"
        # Inside the request's transaction the database knows which request it serves.
        assert response.json()["application_name"] == "studio-api req-4242abcd"
        client.get("/healthz")  # probes are not logged
    lines = [r for r in caplog.records if r.name == "studio.access"]
    assert [(r.route, r.status, r.ctx_request_id) for r in lines] == [
        ("/test-only/application-name", 200, "req-4242abcd")]
    assert lines[0].method == "GET" and lines[0].duration_ms >= 0


class _Ingest(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_unhandled_errors_reach_the_error_reporting_service(pg, db, tmp_path):
    port = free_port()
    ingest = ThreadingHTTPServer(("127.0.0.1", port), _Ingest)
    _Ingest.received = []
    thread = threading.Thread(target=ingest.serve_forever, daemon=True)
    thread.start()
    settings = make_settings(home=tmp_path, sentry_dsn=SecretStr(f"http://publickey@127.0.0.1:{port}/1"))
    assert init_error_reporting(settings) is True
    try:
        server = serve(settings, pg.conninfo(API_ROLE, db), customize=_with_probes)
        running = next(server)
        try:
            with running.client() as client:
                response = client.get("/test-only/boom", headers={"Cookie": "studio_session=secret-cookie"})
            assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
            assert "studio-observability-test-failure" not in response.text  # never to the client
        finally:
            server.close()
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client for the rest of the session
        ingest.shutdown()
        ingest.server_close()
    events = b"\n".join(_Ingest.received)
    assert b"studio-observability-test-failure" in events and b"RuntimeError" in events
    assert b"secret-cookie" not in events  # no personal data: cookies are not sent


def test_a_database_that_went_away_mid_request_is_a_503_to_retry(probed: Server, admin_conn, caplog):
    """The server restarting under a request is transient, not a bug of Studio's: the
    client is told to retry (503 with Retry-After), and the log says why in one line."""
    terminate_backend[:] = [lambda pid: admin_conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))]
    caplog.set_level(logging.WARNING, logger="studio.http")
    with probed.client() as client:
        response = client.get("/test-only/connection-lost", headers={"X-Request-Id": "req-gone0001"})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["retry-after"] == "1"
        # The next request finds a live connection.
        assert client.get("/test-only/application-name").status_code == 200
    [line] = [r for r in caplog.records if r.getMessage().startswith("database unavailable")]
    assert line.levelno == logging.WARNING and line.request_id == "req-gone0001"
