"""The worker against a real database, without the API: batched completion, a lost
lease, and a lost connection (the job is given back without spending an attempt).

Jobs of kind 'maintenance' carry no generation, so each test's handler is the whole
job; the queue's own SQL (claim, complete, release) is what runs.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from studio.config import WORKER_ROLE
from studio.db.scopes import WorkerDatabase
from studio.generation.tasks import GenerationJobs
from studio.jobs.context import JobContext
from studio.jobs.registry import JobKind, Registry
from studio.jobs.repository import RESCUE_ERROR, ClaimedJob
from studio.jobs.worker import Worker, WorkerOptions, connection_lost
from studio.ops import housekeeping
from studio.providers.registry import Providers
from studio.storage.base import StorageError
from studio.storage.local import LocalStorage

Handler = Callable[[JobContext], Awaitable[None]]


def enqueue(admin_conn: psycopg.Connection, n: int, payload: str = "{}") -> list[UUID]:
    rows = admin_conn.execute(
        "INSERT INTO public.jobs (kind, payload) SELECT 'maintenance', %s::jsonb FROM generate_series(1, %s)"
        " RETURNING id", (payload, n))
    return [row[0] for row in rows.fetchall()]


def job_states(admin_conn: psycopg.Connection) -> dict[UUID, tuple[str, int]]:
    rows = admin_conn.execute("SELECT id, status, attempts FROM public.jobs").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


async def run_until(worker_conninfo: str, tmp_path: Path, handler: Handler | JobKind, done: Callable[[], bool], *,
                    concurrency: int = 4, timeout: float = 60, kind: str = "maintenance",
                    provides: frozenset[str] = frozenset(), worker_id: str = "test-worker") -> Worker:
    """Runs a real Worker until `done()` holds, then stops it (also on failure)."""
    db = WorkerDatabase(worker_conninfo, min_size=1, max_size=concurrency + 3, timeout=10)
    await db.open()
    options = WorkerOptions(concurrency=concurrency, poll_seconds=0.2, lease_seconds=6, rescue_every=1,
                            grace_seconds=5, worker_id=worker_id, provides=provides)
    worker = Worker(db, worker_conninfo, LocalStorage(tmp_path), Registry({kind: handler}), options)
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

    async def handler(job: JobContext) -> None:
        answers.setdefault(job.job.job_id, []).append(await job.complete())

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

    async def handler(job: JobContext) -> None:
        with psycopg.connect(pg.admin(db), autocommit=True) as other:
            other.execute("UPDATE public.jobs SET worker_id = 'another-worker' WHERE id = %s", (job.job.job_id,))
        answers.append(await job.complete())

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

    async def handler(job: JobContext) -> None:
        runs.append(job.job.attempts)
        if len(runs) == 1:
            killer = asyncio.create_task(kill_when_running(pg, db, "lost-connection-test"))
            try:
                async with job.scope() as tx:
                    await tx.conn.execute("SELECT pg_sleep(30) AS \"lost-connection-test\"")
            finally:
                await killer
        await job.complete()

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler,
                          lambda: job_states(admin_conn)[job_id][0] == "succeeded"))

    # Both runs were the job's first attempt: the lost connection was not its fault.
    assert runs == [1, 1]
    assert job_states(admin_conn)[job_id] == ("succeeded", 1)


def test_a_failing_file_store_is_retried_and_logged_in_one_line(pg, db, admin_conn, tmp_path, caplog):
    """A full disk is an outage, not a bug: the job is retried with backoff and the
    reason says so, without a traceback per attempt (bench/results/faults.md counted
    116 of them in one disk-full window); a bug still gets its traceback."""
    [store_job, bug_job] = enqueue(admin_conn, 2)
    runs: dict[UUID, int] = {}

    async def handler(job: JobContext) -> None:
        runs[job.job.job_id] = runs.get(job.job.job_id, 0) + 1
        if runs[job.job.job_id] == 1:
            raise StorageError("[Errno 28] No space left on device") if job.job.job_id == store_job else KeyError("x")
        await job.complete()

    admin_conn.execute("UPDATE public.jobs SET max_attempts = 3")
    with caplog.at_level("INFO", logger="studio.worker"):
        asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler,
                              lambda: all(state == ("succeeded", 2) for state in job_states(admin_conn).values())))
    assert runs == {store_job: 2, bug_job: 2}
    store_lines = [r for r in caplog.records if str(store_job) in r.getMessage() and r.levelname == "ERROR"]
    assert [r.getMessage() for r in store_lines] == [
        f"job {store_job}: the file store failed ([Errno 28] No space left on device); retrying"]
    assert store_lines[0].exc_info is None
    bug_lines = [r for r in caplog.records if r.getMessage() == f"job {bug_job} crashed"]
    assert len(bug_lines) == 1 and bug_lines[0].exc_info is not None


def test_a_result_is_recorded_again_after_a_lost_connection(pg, db, admin_conn, tmp_path):
    """retry_on_connection_loss: the transaction that records a finished job's result
    runs again rather than throwing the finished work away."""
    [job_id] = enqueue(admin_conn, 1)
    calls: list[str] = []

    async def handler(job: JobContext) -> None:
        async def record() -> str:
            calls.append("call")
            async with job.scope() as tx:
                if len(calls) == 1:
                    killer = asyncio.create_task(kill_when_running(pg, db, "record-test"))
                    try:
                        await tx.conn.execute("SELECT pg_sleep(30) AS \"record-test\"")
                    finally:
                        await killer
                await tx.conn.execute(
                    "UPDATE public.jobs SET status = 'succeeded', lease_expires_at = NULL"
                    " WHERE id = %s AND worker_id = %s AND status = 'running'", (job.job.job_id, job.worker_id))
            return "recorded"

        assert await job.retry_on_connection_loss(record) == "recorded"

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


class WaitsForItsEvent(JobKind):
    """A kind whose jobs wait for a notification naming them (as a generation waits for
    its provider's webhook)."""

    event_channel = "studio_webhooks"

    def __init__(self) -> None:
        self.outcome: dict[str, bool] = {}
        self.waiting = 0

    def event_key(self, job: ClaimedJob) -> str | None:
        return job.payload["key"]

    async def run(self, job: JobContext) -> None:
        self.waiting += 1
        timeout = 30 if job.job.payload["name"] == "arrived" else 2
        self.outcome[job.job.payload["name"]] = await job.wait_for_event(timeout)
        await job.complete()


def test_a_notification_ends_the_wait_of_the_job_it_names_only(pg, db, admin_conn, tmp_path):
    """public.record_webhook NOTIFYs studio_webhooks with the generation id; the worker's
    LISTEN connection wakes the job whose kind names that payload, not the others."""
    waited_for, other = uuid.uuid4(), uuid.uuid4()
    [arrived] = enqueue(admin_conn, 1, f'{{"name": "arrived", "key": "{waited_for}"}}')
    [unrelated] = enqueue(admin_conn, 1, f'{{"name": "unrelated", "key": "{other}"}}')
    kind = WaitsForItsEvent()

    async def announce_when_both_wait() -> None:
        while kind.waiting < 2:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # both waits have begun
        with psycopg.connect(pg.admin(db), autocommit=True) as conn:
            conn.execute("SELECT pg_notify('studio_webhooks', %s)", (str(waited_for),))
            conn.execute("SELECT pg_notify('studio_webhooks', 'not-a-uuid')")  # ignored

    async def main() -> None:
        announcer = asyncio.create_task(announce_when_both_wait())
        await run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, kind,
                        lambda: {job_states(admin_conn)[j][0] for j in (arrived, unrelated)} == {"succeeded"})
        await announcer

    asyncio.run(main())

    assert kind.outcome == {"arrived": True, "unrelated": False}


def test_housekeeping_removes_ended_shares_unused_uploads_and_stale_temporary_files(pg, db, admin_conn, tmp_path):
    """public.apply_retention through the worker's role, plus the storage's and the
    scratch directory's leftovers; what is still in use or recent stays."""
    user = admin_conn.execute("INSERT INTO users (email) VALUES ('keep@example.org') RETURNING id").fetchone()[0]
    generation = admin_conn.execute(
        "INSERT INTO generations (user_id, type, provider, prompt, status) VALUES (%s, 'image', 'espeak', 'x',"
        " 'succeeded') RETURNING id", (user,)).fetchone()[0]

    def share(ended: str | None, column: str) -> UUID:
        return admin_conn.execute(
            "INSERT INTO shared_content (user_id, slug, generation_id, revoked_at, expires_at)"
            " VALUES (%s, %s, %s, CASE WHEN %s = 'revoked_at' THEN now() - %s::interval END,"
            " CASE WHEN %s = 'expires_at' THEN now() - %s::interval END) RETURNING id",
            (user, uuid.uuid4().hex + "abc", generation, column, ended, column, ended)).fetchone()[0]

    old_revoked, old_expired = share("40 days", "revoked_at"), share("31 days", "expires_at")
    recent_revoked, active = share("1 day", "revoked_at"), share(None, "none")

    def upload(age: str) -> UUID:
        return admin_conn.execute(
            "INSERT INTO media_objects (owner_id, bucket, key, size_bytes, content_type, checksum_sha256, created_at)"
            " VALUES (%s, 'attachments', %s, 3, 'image/png', %s, now() - %s::interval) RETURNING id",
            (user, f"{user}/uploads/{uuid.uuid4()}.png", "0" * 64, age)).fetchone()[0]

    unused_old, used_old, unused_recent = upload("10 days"), upload("10 days"), upload("1 day")
    dataset = admin_conn.execute("INSERT INTO datasets (user_id, name) VALUES (%s, 'faces') RETURNING id",
                                 (user,)).fetchone()[0]
    admin_conn.execute("INSERT INTO dataset_images (dataset_id, media_object_id) VALUES (%s, %s)", (dataset, used_old))

    storage_root, scratch = tmp_path / "storage", tmp_path / "work"
    stale_temp = storage_root / "media" / str(user) / ".tmp-interrupted"
    fresh_temp = storage_root / "media" / str(user) / ".tmp-in-progress"
    stale_dir, fresh_dir = scratch / "gen-crashed", scratch / "gen-running"
    for directory in (stale_temp.parent, stale_dir, fresh_dir):
        directory.mkdir(parents=True, exist_ok=True)
    stale_temp.write_bytes(b"half"), fresh_temp.write_bytes(b"half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale_temp, (two_days_ago, two_days_ago))
    os.utime(stale_dir, (two_days_ago, two_days_ago))

    async def run_housekeeping() -> dict[str, int]:
        database = WorkerDatabase(pg.conninfo(WORKER_ROLE, db), min_size=1, max_size=2, timeout=10)
        await database.open()
        try:
            retention = housekeeping.Retention(scratch_dir=scratch, media_recovery_seconds=29 * 86400)
            return await housekeeping.run(database, LocalStorage(storage_root), retention)
        finally:
            await database.close()

    done = asyncio.run(run_housekeeping())

    assert done["expired_shares"] == 2 and done["orphaned_uploads"] == 1, done
    assert done["stale_temp_files"] == 1 and done["stale_scratch_dirs"] == 1, done
    shares = {row[0] for row in admin_conn.execute("SELECT id FROM shared_content").fetchall()}
    assert shares == {recent_revoked, active}
    uploads = {row[0] for row in admin_conn.execute("SELECT id FROM media_objects").fetchall()}
    assert uploads == {used_old, unused_recent} and unused_old not in uploads
    # The unused upload's file goes through the outbox like any deleted file: retired.
    queued = admin_conn.execute("SELECT key, mode FROM storage_deletions").fetchall()
    assert [mode for _, mode in queued] == ["retire"]
    assert not stale_temp.exists() and fresh_temp.exists()
    assert not stale_dir.exists() and fresh_dir.exists()
    assert old_revoked not in shares and old_expired not in shares


def test_a_generation_whose_worker_died_before_starting_it_fails_with_its_job(pg, db, admin_conn, tmp_path):
    """The claim commits the job as running; the generation kind starts its generation in
    its own first transaction. A worker that dies in between leaves the generation
    queued: when the rescue fails the job for good (no attempts left), the generation
    fails with it, rather than staying queued (and reserving its cost) for ever."""
    user = admin_conn.execute("INSERT INTO users (email) VALUES ('w@example.org') RETURNING id").fetchone()[0]
    model = admin_conn.execute("SELECT id, provider FROM model_registry WHERE slug = 'espeak-en'").fetchone()
    generation = admin_conn.execute(
        "INSERT INTO generations (user_id, model_id, type, provider, prompt) VALUES (%s, %s, 'audio', %s, 'hi')"
        " RETURNING id", (user, model[0], model[1])).fetchone()[0]
    job = admin_conn.execute(
        "INSERT INTO jobs (kind, user_id, generation_id, status, attempts, max_attempts, worker_id, lease_expires_at)"
        " VALUES ('generation', %s, %s, 'running', 2, 2, 'a-dead-worker', now() - interval '1 minute')"
        " RETURNING id", (user, generation)).fetchone()[0]
    generations = GenerationJobs(Providers({}, {}), max_result_bytes=1024, work_root=tmp_path / "work")

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, generations,
                          lambda: job_states(admin_conn)[job][0] == "failed", concurrency=1, timeout=30,
                          kind="generation"))

    row = admin_conn.execute("SELECT status, error, finished_at IS NOT NULL FROM generations WHERE id = %s",
                             (generation,)).fetchone()
    assert row == ("failed", RESCUE_ERROR, True)


class _Forever(JobKind):
    """A kind whose runs wait until they are cancelled (records which runs began)."""

    def __init__(self) -> None:
        self.began: list[int] = []

    async def run(self, job: JobContext) -> None:
        self.began.append(job.job.attempts)
        await asyncio.Event().wait()


def _claimed(job_id: UUID, attempts: int = 1) -> ClaimedJob:
    return ClaimedJob(job_id, "maintenance", attempts, 5, None, None, {})


def _bare_worker(tmp_path: Path, kind: JobKind) -> Worker:
    """A Worker for its bookkeeping only: these runs never reach the database."""
    return Worker(None, "", LocalStorage(tmp_path), Registry({"maintenance": kind}),  # type: ignore[arg-type]
                  WorkerOptions(worker_id="test-worker"))


def test_a_run_cancelled_before_it_began_frees_its_slot(tmp_path):
    """The heartbeat may cancel a run (its lease was lost) before the run's first step;
    such a task never executes its body, and its slot must be freed all the same."""
    kind = _Forever()

    async def scenario() -> tuple[int, bool]:
        worker = _bare_worker(tmp_path, kind)
        worker._start(_claimed(uuid.uuid4()))
        [entry] = worker.running.values()
        entry.task.cancel()
        await asyncio.gather(entry.task, return_exceptions=True)
        await asyncio.sleep(0)  # the done callback
        return len(worker.running), worker._wake.is_set()

    assert asyncio.run(scenario()) == (0, True)
    assert kind.began == []


def test_a_job_claimed_again_stops_the_stale_run_and_keeps_the_new_one(tmp_path):
    """Cut off from the database while giving a job back, a run can lose its lease; the
    queue may then hand the same job to this very worker again. The stale run is stopped,
    and its end does not forget the new run (which the heartbeat must keep renewing)."""
    kind = _Forever()
    job_id = uuid.uuid4()

    async def scenario() -> tuple[bool, bool, int]:
        worker = _bare_worker(tmp_path, kind)
        worker._start(_claimed(job_id, attempts=1))
        stale = worker.running[job_id]
        await asyncio.sleep(0.01)  # the first run is under way
        worker._start(_claimed(job_id, attempts=2))
        fresh = worker.running[job_id]
        await asyncio.wait([stale.task], timeout=5)
        stopped = stale.task.cancelled()
        stale.task.cancel()  # (left running by a worker that does not stop it)
        await asyncio.gather(stale.task, return_exceptions=True)
        await asyncio.sleep(0.01)
        kept = worker.running.get(job_id) is fresh and not fresh.task.done()
        fresh.task.cancel()
        await asyncio.gather(fresh.task, return_exceptions=True)
        await asyncio.sleep(0)
        return stopped, kept, len(worker.running)

    assert asyncio.run(scenario()) == (True, True, 0)
    assert kind.began == [1, 2]


def test_the_heartbeat_does_not_stop_a_run_claimed_while_it_ran(pg, db, admin_conn, tmp_path):
    """The heartbeat finds that a stale run here lost its job; meanwhile the claim loop
    got the same job again and started a new run. The heartbeat must stop the stale run
    only: cancelling the new one before it began used to leave its entry behind, and the
    heartbeat then renewed that job's lease for ever with nothing running it."""
    held_id, lost_id = enqueue(admin_conn, 2)
    admin_conn.execute("UPDATE public.jobs SET status = 'running', worker_id = 'test-worker', attempts = 1,"
                       " lease_expires_at = now() + interval '1 minute' WHERE id = %s", (held_id,))

    class ClaimedMeanwhile(_Forever):
        worker: Worker

        async def cancelled(self, tx, jobs):  # asked during the heartbeat: claim the lost job now
            admin_conn.execute("UPDATE public.jobs SET status = 'running', worker_id = 'test-worker',"
                               " attempts = 2, lease_expires_at = now() + interval '1 minute' WHERE id = %s",
                               (lost_id,))
            self.worker._start(_claimed(lost_id, attempts=2))
            return set()

    kind = ClaimedMeanwhile()

    async def scenario() -> tuple[bool, bool]:
        pool = WorkerDatabase(pg.conninfo(WORKER_ROLE, db), min_size=1, max_size=2, timeout=10)
        await pool.open()
        worker = kind.worker = Worker(pool, "", LocalStorage(tmp_path), Registry({"maintenance": kind}),
                                      WorkerOptions(worker_id="test-worker"))
        try:
            worker._start(_claimed(held_id))
            worker._start(_claimed(lost_id))  # the stale run: the job is queued, not ours
            await asyncio.sleep(0.01)
            await worker._heartbeat()
            await asyncio.sleep(0.01)
            fresh = worker.running.get(lost_id)
            alive = fresh is not None and fresh.job.attempts == 2 and not fresh.task.done()
            held_alive = not worker.running[held_id].task.done()
            return alive, held_alive
        finally:
            for run in list(worker.running.values()):
                run.task.cancel()
            await asyncio.sleep(0.01)
            await pool.close()

    assert asyncio.run(scenario()) == (True, True)
    assert kind.began == [1, 1, 2]


def test_a_worker_claims_only_the_jobs_whose_requirement_it_offers(pg, db, admin_conn, tmp_path):
    """jobs.requires: a worker without the capability leaves such a job queued, however
    long it runs; one that offers it runs it. Jobs requiring nothing go to either."""
    plain = enqueue(admin_conn, 6)
    needy = [row[0] for row in admin_conn.execute(
        "INSERT INTO public.jobs (kind, requires) SELECT 'maintenance', 'diffusers' FROM generate_series(1, 3)"
        " RETURNING id").fetchall()]
    ran: dict[UUID, str] = {}

    def handler(name: str) -> Handler:
        async def run(job: JobContext) -> None:
            ran[job.job.job_id] = name
            await job.complete()
        return run

    finished_plain: list[float] = []

    def plain_done_and_idle() -> bool:
        """The plain jobs ran, and then the worker went on polling (0.2 s) for a while."""
        if len(ran) < len(plain):
            return False
        finished_plain[:] = finished_plain or [time.monotonic()]
        return time.monotonic() - finished_plain[0] > 1.5

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler("plain"), plain_done_and_idle,
                          worker_id="plain-worker"))
    assert set(ran) == set(plain) and set(ran.values()) == {"plain"}
    assert {job_states(admin_conn)[job_id] for job_id in needy} == {("queued", 0)}

    asyncio.run(run_until(pg.conninfo(WORKER_ROLE, db), tmp_path, handler("gpu"),
                          lambda: len(ran) >= len(plain) + len(needy), provides=frozenset({"diffusers", "espeak"}),
                          worker_id="gpu-worker"))
    assert {ran[job_id] for job_id in needy} == {"gpu"}
    rows = admin_conn.execute("SELECT worker_id, status FROM public.jobs WHERE requires = 'diffusers'").fetchall()
    assert rows == [("gpu-worker", "succeeded")] * 3
