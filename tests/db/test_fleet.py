"""The fleet against a real database: workers register their node (as studio_worker,
under its policies), the API reads what the live nodes offer through
public.fleet_capabilities() (as anon: it may not read the table), a node that went
quiet or that an admin set draining offers nothing, and what the API follows is
NOTIFYed when a node's offer changes, not on every heartbeat."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from studio.auth.identity import RequestContext
from studio.config import API_ROLE, WORKER_ROLE
from studio.db.scopes import ApiDatabase, WorkerDatabase
from studio.fleet import repository as fleet


async def _register(conninfo: str, name: str, provides: set[str]) -> bool:
    db = WorkerDatabase(conninfo, min_size=1, max_size=1, timeout=10)
    await db.open()
    try:
        async with db.as_worker() as tx:
            return await fleet.register(tx, name=name, provides=frozenset(provides))
    finally:
        await db.close()


async def _offered(conninfo: str) -> frozenset[str]:
    db = ApiDatabase(conninfo, min_size=1, max_size=1, timeout=10)
    await db.open()
    try:
        async with db.as_anon(RequestContext(request_id="fleet-test")) as tx:
            return await fleet.live_capabilities(tx)
    finally:
        await db.close()


def test_the_api_sees_what_live_nodes_offer(pg, db, admin_conn):
    worker, api = pg.conninfo(WORKER_ROLE, db), pg.conninfo(API_ROLE, db)
    assert asyncio.run(_offered(api)) == frozenset()

    assert asyncio.run(_register(worker, "cpu-1", {"espeak", "ffmpeg"}))
    assert asyncio.run(_register(worker, "gpu-1", {"diffusers", "espeak"}))
    assert asyncio.run(_offered(api)) == {"diffusers", "espeak", "ffmpeg"}
    assert admin_conn.execute("SELECT count(*) FROM public.node_resources").fetchone() == (2,)

    # Registering again renews the row (one per node) with what it offers now.
    assert asyncio.run(_register(worker, "gpu-1", {"espeak"}))
    assert asyncio.run(_offered(api)) == {"espeak", "ffmpeg"}
    assert admin_conn.execute("SELECT count(*) FROM public.node_resources").fetchone() == (2,)

    # A node not heard from for over a minute counts as gone.
    admin_conn.execute("UPDATE public.node_resources SET last_heartbeat_at = now() - interval '61 seconds'"
                       " WHERE name = 'cpu-1'")
    assert asyncio.run(_offered(api)) == {"espeak"}

    # Draining is an admin's to set and undo: the worker's renewal leaves it, and it offers nothing.
    admin_conn.execute("UPDATE public.node_resources SET status = 'draining' WHERE name = 'gpu-1'")
    assert asyncio.run(_register(worker, "gpu-1", {"diffusers"})) is False
    assert admin_conn.execute("SELECT status, capabilities FROM public.node_resources WHERE name = 'gpu-1'"
                              ).fetchone() == ("draining", {"provides": ["espeak"]})
    assert asyncio.run(_offered(api)) == frozenset()


def test_the_api_may_read_the_offer_but_not_the_nodes(pg, db):
    with psycopg.connect(pg.conninfo(API_ROLE, db), autocommit=True) as conn:
        conn.execute("SET ROLE anon")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT name FROM public.node_resources")
        assert conn.execute("SELECT count(*) FROM public.fleet_capabilities()").fetchone() == (0,)


def test_a_change_of_offer_is_notified_and_a_heartbeat_is_not(pg, db, admin_conn):
    worker = pg.conninfo(WORKER_ROLE, db)
    with psycopg.connect(pg.conninfo(WORKER_ROLE, db), autocommit=True) as listener:
        listener.execute("LISTEN studio_connections")

        def heard() -> int:
            return sum(1 for _ in listener.notifies(timeout=0.5))

        asyncio.run(_register(worker, "gpu-1", {"diffusers"}))
        assert heard() == 1   # a new node
        asyncio.run(_register(worker, "gpu-1", {"diffusers"}))
        assert heard() == 0   # a heartbeat
        asyncio.run(_register(worker, "gpu-1", {"diffusers", "espeak"}))
        assert heard() == 1   # it offers more now
        admin_conn.execute("UPDATE public.node_resources SET last_heartbeat_at = now() - interval '5 minutes'")
        asyncio.run(_register(worker, "gpu-1", {"diffusers", "espeak"}))
        assert heard() == 1   # back after a silence
