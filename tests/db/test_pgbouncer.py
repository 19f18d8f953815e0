"""Studio's pools through a real PgBouncer in transaction mode (F2), with one server
connection, so that every transaction of every client lands on the very same backend:
whatever a transaction leaves behind, the next client's transaction would see."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from studio.auth.identity import RequestContext
from studio.config import API_ROLE, WORKER_ROLE, Settings
from studio.db.pgbouncer import PgBouncer, find_pgbouncer
from studio.db.scopes import ApiDatabase, WorkerDatabase
from studio.jobs import repository as jobs
from tests.conftest import free_port
from tests.db.test_scopes import make_user, session
from tests.db.test_worker import enqueue


@pytest.fixture
def bouncer(pg, db):
    if pg.cluster is None:
        pytest.skip("PgBouncer is run in front of the test session's own cluster")
    find_pgbouncer()  # a missing binary fails here, with the package to install
    bouncer = PgBouncer(pg.cluster, port=free_port(), db_name=db, pool_size=1, roles=(API_ROLE, WORKER_ROLE))
    bouncer.start(pg.admin(db))
    try:
        yield bouncer
    finally:
        bouncer.stop()


def through(bouncer: PgBouncer, pg, role: str) -> str:
    return psycopg.conninfo.make_conninfo(bouncer.base_conninfo(), user=role, password=pg.passwords[role])


def test_no_identity_survives_into_another_clients_transaction(pg, db, admin_conn, bouncer):
    alice, token = make_user(admin_conn, "alice@example.org")
    admin_conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, 'private')", (alice,))

    async def scenario():
        # Two client connections in Studio's pool, one server connection behind them.
        api = ApiDatabase(through(bouncer, pg, API_ROLE), min_size=2, max_size=2, timeout=5,
                          prepared_statements=False)
        await api.open()
        try:
            async with api.as_user(session(token), RequestContext(request_id="req-alice")) as tx:
                cur = await tx.conn.execute(
                    "SELECT pg_backend_pid() AS pid, current_user AS role, auth.uid() AS uid,"
                    "       current_setting('application_name') AS app,"
                    "       (SELECT count(*) FROM conversations) AS conversations")
                inside = await cur.fetchone()
            # Another client: a bare connection, outside any scope of ours.
            with psycopg.connect(through(bouncer, pg, API_ROLE), autocommit=True, prepare_threshold=None) as other:
                after = other.execute(
                    "SELECT pg_backend_pid(), current_user, current_setting('role'),"
                    "       current_setting('studio.user_id', true), current_setting('studio.request_id', true),"
                    "       current_setting('application_name')").fetchone()
                # studio_api by itself may read nothing at all: no role was left behind.
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    other.execute("SELECT count(*) FROM conversations")
            return inside, after
        finally:
            await api.close()

    inside, after = asyncio.run(scenario())
    assert inside["role"] == "authenticated" and inside["uid"] == alice and inside["conversations"] == 1
    assert inside["app"] == "studio-api req-alice"
    pid, user, role, claim, request_id, app = after
    assert pid == inside["pid"], "PgBouncer was expected to hand over the same server connection"
    assert (user, role) == (API_ROLE, "none")
    assert claim in (None, "") and request_id in (None, "")
    assert app != "studio-api req-alice"


def test_the_same_queries_from_many_clients_need_no_prepared_statements(pg, db, admin_conn, bouncer):
    """psycopg prepares a query on its 5th run; with Studio's setting it never does, so 40
    users' requests over 4 client connections share one server connection without error."""
    users = [make_user(admin_conn, f"u{i}@example.org") for i in range(40)]
    for user_id, _ in users:
        admin_conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, 'mine')", (user_id,))

    async def scenario():
        api = ApiDatabase(through(bouncer, pg, API_ROLE), min_size=4, max_size=4, timeout=10,
                          prepared_statements=Settings(pgbouncer=True).prepared_statements)
        await api.open()
        try:
            async def request(token: str) -> list[uuid.UUID]:
                async with api.as_user(session(token), RequestContext(request_id=uuid.uuid4().hex)) as tx:
                    cur = await tx.conn.execute("SELECT user_id FROM conversations WHERE title = %s", ("mine",))
                    return [row["user_id"] for row in await cur.fetchall()]
            return await asyncio.gather(*(request(token) for _ in range(3) for _, token in users))
        finally:
            await api.close()

    results = asyncio.run(scenario())
    expected = [user_id for _ in range(3) for user_id, _ in users]
    assert results == [[user_id] for user_id in expected]  # each sees exactly its own row


def test_prepared_statements_would_break_behind_pgbouncer(pg, db, bouncer):
    """The control: why the setting exists. Two clients that prepare the same statement
    name on the one server connection collide."""

    async def scenario():
        api = ApiDatabase(through(bouncer, pg, API_ROLE), min_size=2, max_size=2, timeout=10,
                          prepared_statements=True)
        await api.open()
        try:
            async def request() -> None:
                async with api.as_anon(RequestContext(request_id="r")) as tx:
                    await tx.conn.execute("SELECT %s::int", (1,))
            for _ in range(10):
                await asyncio.gather(request(), request())
        finally:
            await api.close()

    with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
        asyncio.run(scenario())


def test_the_worker_claims_and_completes_jobs_through_pgbouncer(pg, db, admin_conn, bouncer):
    """The queue's claim and batched completion are single statements, each its own
    transaction: fine behind a transaction pooler. Its LISTEN goes to the server itself."""
    settings = Settings(pgbouncer=True, database_url=bouncer.base_conninfo(),
                        direct_database_url=pg.cluster.conninfo("x", "x", db))
    worker_conninfo = through(bouncer, pg, WORKER_ROLE)
    listen = psycopg.conninfo.conninfo_to_dict(settings.direct_conninfo(worker_conninfo))
    assert listen["port"] == str(pg.cluster.port) and listen["user"] == WORKER_ROLE
    assert listen["password"] == pg.passwords[WORKER_ROLE]
    ids = set(enqueue(admin_conn, 12))

    async def scenario() -> list[uuid.UUID]:
        worker_db = WorkerDatabase(worker_conninfo, min_size=2, max_size=2, timeout=5,
                                   prepared_statements=settings.prepared_statements)
        await worker_db.open()
        try:
            claimed: list[uuid.UUID] = []
            for _ in range(12):  # past psycopg's prepare threshold, over both client connections
                async with worker_db.single_statement() as scope:
                    [job] = await jobs.claim(scope, worker_id="w1", batch=1, lease_seconds=30)
                async with worker_db.single_statement() as scope:
                    assert await jobs.finish_jobs(scope, job_ids=[job.job_id], worker_id="w1",
                                                  status="succeeded") == {job.job_id}
                claimed.append(job.job_id)
            return claimed
        finally:
            await worker_db.close()

    claimed = asyncio.run(scenario())
    assert sorted(claimed) == sorted(ids)  # each once
    states = admin_conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
    assert states == [("succeeded", 12)]
