"""When every pooled connection is busy (F2), a request waits at most pool_timeout,
then gets 503 with Retry-After; nothing crashes and no connection leaks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.responses import Response

from studio.config import API_ROLE
from studio.http.deps import Ctx, Db
from studio.http.responses import json_response
from tests.api.conftest import Server, make_settings, serve

router = APIRouter(prefix="/test-only")


@router.get("/hold")
async def hold(db: Db, ctx: Ctx) -> Response:
    async with db.as_anon(ctx) as tx:
        await tx.conn.execute("SELECT pg_sleep(3) AS \"pool-exhaustion-test\"")
    return json_response({"held": True})


@router.get("/quick")
async def quick(db: Db, ctx: Ctx) -> Response:
    """Any endpoint that needs a connection (the real ones need a signed-in user too)."""
    async with db.as_anon(ctx) as tx:
        await tx.conn.execute("SELECT 1")
    return json_response({"ok": True})


def _with_hold(app: FastAPI) -> None:
    app.include_router(router)


@pytest.fixture
def small_pool(pg, db, tmp_path) -> Iterator[Server]:
    settings = make_settings(home=tmp_path, pool_min_size=0, pool_max_size=2, pool_timeout=0.5)
    yield from serve(settings, pg.conninfo(API_ROLE, db), customize=_with_hold)


def _busy_backends(admin_conn) -> int:
    return admin_conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'studio_api'"
                              " AND query LIKE '%pool-exhaustion-test%' AND state = 'active'").fetchone()[0]


def test_an_exhausted_pool_answers_503_with_retry_after_and_recovers(small_pool: Server, admin_conn):
    results: list[int] = []

    def slow() -> None:
        with httpx.Client(base_url=small_pool.url, timeout=30) as client:
            results.append(client.get("/test-only/hold").status_code)

    holders = [threading.Thread(target=slow) for _ in range(2)]
    for thread in holders:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while _busy_backends(admin_conn) < 2:
            assert time.monotonic() < deadline, "the two slow requests never held both connections"
            time.sleep(0.05)
        with small_pool.client() as client:
            refused = client.get("/test-only/quick")
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "unavailable"
    finally:
        for thread in holders:
            thread.join(30)
    assert results == [200, 200]
    # Recovered, and no connection leaked: the pool never held more than its two.
    with small_pool.client() as client:
        assert client.get("/test-only/quick").status_code == 200
    connections = admin_conn.execute(  # the pool's: not the connection listener's own
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'studio_api'"
        " AND application_name <> 'studio-connections'").fetchone()[0]
    assert connections <= 2
