"""The worker against a real database, without the API: batched completion, a lost
lease, and a lost connection (the job is given back without spending an attempt).

Jobs of kind 'maintenance' carry no generation, so each test's handler is the whole
job; the queue's own SQL (claim, complete, release) is what runs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from studio.config import WORKER_ROLE
from studio.db.scopes import WorkerDatabase
from studio.jobs.repository import ClaimedJob
from studio.jobs.worker import Worker, WorkerOptions, connection_lost
from studio.storage.local import LocalStorage

Handler = Callable[[Worker, ClaimedJob, asyncio.Event], Awaitable[None]]


def enqueue(admin_conn: psycopg.Connection, n: int) -> list[UUID]:
    rows = admin_conn.execute(
        "INSERT INTO public.jobs (kind) SELECT 'maintenance' FROM generate_series(1, %s) RETURNING id", (n,))
    return [row[0] for row in rows.fetchall()]


def job_states(admin_conn: psycopg.Connection) -> dict[UUID, tuple[str, int]]:
    rows = admin_conn.execute("SELECT id, status, attempts FROM public.jobs").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


async def run_until(worker_conninfo: str, tmp_path: Path, handler: Handler, done: Callable[[], bool], *,
                    concurrency: int = 4, timeout: float = 60) -> Worker:
    """Runs a real Worker until `done()` holds, then stops it (also on failure)."""
    db = WorkerDatabase(worker_conninfo, min_size=1, max_size=concurrency + 3, timeout=10)
    await db.open()
    options = WorkerOptions(concurrency=concurrency, poll_seconds=0.2, lease_seconds=6, rescue_every=1,
                            cleanup_every=5, grace_seconds=5, worker_id="test-worker")
    worker = Worker(db, worker_conninfo, LocalStorage(tmp_path), {"maintenance": handler}, options)
    running = asyncio.create_task(worker.run())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            assert not running.done(), "the worker stopped by itself"
            assert loop.time() < deadline, "the jobs did not finish"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
        await db.close()
    return worker


def test_batched_completion_completes_each_job_once(pg, db, admin_conn, tmp_path):
    job_ids = enqueue(admin_conn, 60)
    answers: dict[UUID, list[bool]] = {}

    async def handler(worker: Worker, job: ClaimedJob, cancel: asyncio.Event) -> None:
        answers.setdefault(job.job_id, []).append(await worker.complete(job))

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler,
                          lambda: sum(len(a) for a in answers.values()) >= len(job_ids), concurrency=10))

    assert answers == {job_id: [True] for job_id in job_ids}
    assert set(job_states(admin_conn).values()) == {("succeeded", 1)}
    leases = admin_conn.execute("SELECT count(*) FROM public.jobs WHERE lease_expires_at IS NOT NULL").fetchone()
    assert leases == (0,)


def test_complete_reports_a_lease_taken_over(pg, db, admin_conn, tmp_path):
    """A job this worker no longer holds (presumed dead, re-run elsewhere) is not marked
    succeeded by it: the other worker's run decides."""
    [job_id] = enqueue(admin_conn, 1)
    answers: list[bool] = []

    async def handler(worker: Worker, job: ClaimedJob, cancel: asyncio.Event) -> None:
        with psycopg.connect(pg.admin(db), autocommit=True) as other:
            other.execute("UPDATE public.jobs SET worker_id = 'another-worker' WHERE id = %s", (job.job_id,))
        answers.append(await worker.complete(job))

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler, lambda: bool(answers)))

    assert answers == [False]
    row = admin_conn.execute("SELECT status, worker_id FROM public.jobs WHERE id = %s", (job_id,)).fetchone()
    assert row == ("running", "another-worker")


def terminate_backends_running(pg, db: str, marker: str) -> int:
    """Kills the server processes whose current query contains `marker`, as a restart
    or a failover would: their clients see the connection drop."""
    with psycopg.connect(pg.admin(db), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND usename = %s AND query LIKE %s AND pid <> pg_backend_pid()",
            (WORKER_ROLE, f"%{marker}%")).fetchone()
    return row[0]


async def kill_when_running(pg, db: str, marker: str) -> None:
    while not await asyncio.to_thread(terminate_backends_running, pg, db, marker):
        await asyncio.sleep(0.05)


def test_lost_connection_gives_the_job_back_without_spending_an_attempt(pg, db, admin_conn, tmp_path):
    [job_id] = enqueue(admin_conn, 1)
    runs: list[int] = []

    async def handler(worker: Worker, job: ClaimedJob, cancel: asyncio.Event) -> None:
        runs.append(job.attempts)
        if len(runs) == 1:
            killer = asyncio.create_task(kill_when_running(pg, db, "lost-connection-test"))
            try:
                async with worker.db.as_worker() as tx:
                    await tx.conn.execute("SELECT pg_sleep(30) AS \"lost-connection-test\"")
            finally:
                await killer
        await worker.complete(job)

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler,
                          lambda: job_states(admin_conn)[job_id][0] == "succeeded"))

    # Both runs were the job's first attempt: the lost connection was not its fault.
    assert runs == [1, 1]
    assert job_states(admin_conn)[job_id] == ("succeeded", 1)


def test_a_result_is_recorded_again_after_a_lost_connection(pg, db, admin_conn, tmp_path):
    """retry_on_connection_loss: the transaction that records a finished job's result
    runs again rather than throwing the finished work away."""
    [job_id] = enqueue(admin_conn, 1)
    calls: list[str] = []

    async def handler(worker: Worker, job: ClaimedJob, cancel: asyncio.Event) -> None:
        async def record() -> str:
            calls.append("call")
            async with worker.db.as_worker() as tx:
                if len(calls) == 1:
                    killer = asyncio.create_task(kill_when_running(pg, db, "record-test"))
                    try:
                        await tx.conn.execute("SELECT pg_sleep(30) AS \"record-test\"")
                    finally:
                        await killer
                await tx.conn.execute(
                    "UPDATE public.jobs SET status = 'succeeded', lease_expires_at = NULL"
                    " WHERE id = %s AND worker_id = %s AND status = 'running'", (job.job_id, worker.worker_id))
            return "recorded"

        assert await worker.retry_on_connection_loss(record) == "recorded"

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler,
                          lambda: job_states(admin_conn)[job_id][0] == "succeeded"))

    assert calls == ["call", "call"]
    assert job_states(admin_conn)[job_id] == ("succeeded", 1)


@pytest.mark.parametrize(("error", "lost"), [
    (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
    (psycopg.OperationalError("server closed the connection unexpectedly"), True),
    (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
    (psycopg.errors.UniqueViolation("duplicate key"), False),
    (RuntimeError("a bug"), False),
])
def test_connection_lost_tells_the_database_going_away_from_a_statement_error(error, lost):
    assert connection_lost(error) is lost


def test_a_webhook_notification_ends_the_wait_of_its_generation_only(pg, db, admin_conn, tmp_path):
    """public.record_webhook NOTIFYs studio_webhooks with the generation id; the worker's
    LISTEN connection wakes the task waiting for that generation, not the others."""
    [job_id] = enqueue(admin_conn, 1)
    waited_for, other = uuid.uuid4(), uuid.uuid4()
    outcome: dict[str, bool] = {}

    async def handler(worker: Worker, job: ClaimedJob, cancel: asyncio.Event) -> None:
        async def announce() -> None:
            await asyncio.sleep(0.3)  # both waits have begun
            with psycopg.connect(pg.admin(db), autocommit=True) as conn:
                conn.execute("SELECT pg_notify('studio_webhooks', %s)", (str(waited_for),))
                conn.execute("SELECT pg_notify('studio_webhooks', 'not-a-uuid')")  # ignored

        announcer = asyncio.create_task(announce())
        arrived, unrelated = await asyncio.gather(worker.webhook_arrived(waited_for, timeout=30),
                                                  worker.webhook_arrived(other, timeout=2))
        await announcer
        outcome.update(arrived=arrived, unrelated=unrelated)
        worker.forget_webhooks(waited_for)
        worker.forget_webhooks(other)
        await worker.complete(job)

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler,
                          lambda: job_states(admin_conn)[job_id][0] == "succeeded"))

    assert outcome == {"arrived": True, "unrelated": False}
