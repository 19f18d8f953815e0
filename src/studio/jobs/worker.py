"""The worker process: claims jobs from Postgres and runs them.

Stateless by design: everything that matters is in the database, so any number of
workers may run on any number of machines, and a worker may die at any moment.

- Wake-ups: LISTEN studio_jobs on a dedicated connection; polling every
  `poll_seconds` as a fallback (a missed notification only costs latency). The same
  connection hears studio_webhooks, which ends a provider's wait for its result early.
- Leases: a claimed job belongs to this worker until `lease_seconds` from its last
  heartbeat. Heartbeats run every lease/3; a job whose lease was lost, or whose
  generation the user cancelled, is stopped.
- Rescue: every worker periodically re-queues jobs whose lease expired (their worker
  died); retries back off exponentially up to max_attempts.
- Outbox: workers also delete the files listed in storage_deletions.
- SIGTERM: stop claiming, give running jobs `grace_seconds` to finish, release the
  rest back to the queue without spending an attempt, exit.
- Lost database connection (a restart, a failover) while running a job: the job is
  not at fault, so it goes back to the queue without spending an attempt.
- Batched completion: handlers that write nothing but the job's status call
  `Worker.complete`, which marks every job completed meanwhile in one statement.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import psycopg

from studio.db.scopes import WorkerDatabase
from studio.jobs import repository as repo
from studio.jobs.repository import ClaimedJob
from studio.monitoring.logs import job_id_var
from studio.storage.base import Storage

log = logging.getLogger("studio.worker")

T = TypeVar("T")
JobHandler = Callable[["Worker", ClaimedJob, asyncio.Event], Awaitable[None]]


def connection_lost(exc: BaseException) -> bool:
    """The database went away (restart, failover, network), as opposed to an error of
    the statement itself. psycopg files cancelled statements (statement_timeout) under
    OperationalError too; those are the job's own doing."""
    return isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled)


def remove_stale_dirs(root: Path, older_than_seconds: float) -> int:
    """Scratch directories of tasks that crashed (a running task's directory is fresh:
    every file it writes touches it)."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: retries of many failed jobs spread out."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(attempt - 1, 0)))


@dataclass
class WorkerOptions:
    concurrency: int = 2
    lease_seconds: float = 30.0
    poll_seconds: float = 2.0
    grace_seconds: float = 20.0
    rescue_every: float = 5.0
    cleanup_every: float = 5.0
    # Deleted media are retired for this long (point-in-time recovery), then purged;
    # 0: deleted at once.
    media_recovery_seconds: float = 0.0
    # Hourly housekeeping (F20): retired files past the window, shares ended this many
    # days ago, uploads nothing uses after this many days, temporary files (interrupted
    # uploads, scratch directories of crashed tasks) older than temp_max_age_seconds.
    housekeeping_every: float = 3600.0
    share_retention_days: int = 30
    upload_orphan_days: int = 7
    temp_max_age_seconds: float = 86400.0
    scratch_dir: Path | None = None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


@dataclass
class _Running:
    job: ClaimedJob
    task: asyncio.Task[None]
    cancel: asyncio.Event


class Worker:
    def __init__(self, db: WorkerDatabase, conninfo: str, storage: Storage, handlers: dict[str, JobHandler],
                 options: WorkerOptions | None = None) -> None:
        self.db = db
        self.conninfo = conninfo  # for the LISTEN connection, outside the pool
        self.storage = storage
        self.handlers = handlers
        self.options = options or WorkerOptions()
        self.running: dict[UUID, _Running] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.completed = 0
        self._completions: dict[UUID, asyncio.Future[bool]] = {}
        self._completions_due = asyncio.Event()
        self._webhook_events: dict[UUID, asyncio.Event] = {}

    @property
    def worker_id(self) -> str:
        return self.options.worker_id

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                pass
        background = [asyncio.create_task(coro) for coro in (
            self._listen(), self._complete_batches(), self._every(self.options.lease_seconds / 3, self._heartbeat),
            self._every(self.options.rescue_every, self._rescue),
            self._every(self.options.cleanup_every, self._cleanup_storage),
            self._every(self.options.housekeeping_every, self._housekeeping))]
        log.info("worker %s started (concurrency %d)", self.worker_id, self.options.concurrency)
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            log.info("worker %s stopped after %d jobs", self.worker_id, self.completed)

    # --- claiming -------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            free = self.options.concurrency - len(self.running)
            claimed: list[ClaimedJob] = []
            if free > 0:
                try:
                    async with self.db.single_statement() as tx:  # the claim is one statement
                        claimed = await repo.claim(tx, worker_id=self.worker_id, batch=free,
                                                   lease_seconds=self.options.lease_seconds)
                except psycopg.OperationalError as exc:
                    # The database restarts: keep the jobs we have, retry shortly.
                    log.warning("claim failed (%s); retrying", type(exc).__name__)
                    await self._recheck_pool()
                    await self._sleep(1.0)
                    continue
                for job in claimed:
                    self._start(job)
            if claimed and len(self.running) < self.options.concurrency:
                continue  # there may be more waiting
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.poll_seconds)
            except TimeoutError:
                pass

    async def complete(self, job: ClaimedJob) -> bool:
        """Mark the job succeeded together with every other job completed meanwhile: one
        statement and one commit for all of them. For handlers that write nothing else
        when their job succeeds (a generation records its result with finish_job in its
        own transaction instead). False when this worker no longer held the job."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._completions[job.job_id] = future
        self._completions_due.set()
        return await future

    async def _complete_batches(self) -> None:
        """Runs until the worker stops (after _drain, so running jobs still complete)."""
        while True:
            await self._completions_due.wait()
            self._completions_due.clear()
            batch, self._completions = self._completions, {}
            if not batch:
                continue
            try:
                async with self.db.single_statement() as tx:
                    held = await repo.finish_jobs(tx, job_ids=list(batch), worker_id=self.worker_id,
                                                  status="succeeded")
            except psycopg.Error as exc:
                for future in batch.values():
                    if not future.done():
                        future.set_exception(exc)  # the handler fails; the lease expires, the job is rescued
                continue
            for job_id, future in batch.items():
                if not future.done():
                    future.set_result(job_id in held)

    def _start(self, job: ClaimedJob) -> None:
        cancel = asyncio.Event()
        task = asyncio.create_task(self._execute(job, cancel), name=f"job-{job.job_id}")
        self.running[job.job_id] = _Running(job, task, cancel)

    async def _execute(self, job: ClaimedJob, cancel: asyncio.Event) -> None:
        job_id_var.set(str(job.job_id))  # this task's log lines carry the job id
        try:
            if not job.runnable:  # cancelled or deleted before it started
                async with self.db.as_worker() as tx:
                    await repo.cancel(tx, job_id=job.job_id, worker_id=self.worker_id)
                return
            handler = self.handlers.get(job.kind)
            if handler is None:
                async with self.db.as_worker() as tx:
                    await repo.fail(tx, job=job, worker_id=self.worker_id,
                                    error=f"no handler for jobs of kind {job.kind!r}", retry_in=None)
                return
            await handler(self, job, cancel)
            self.completed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if connection_lost(exc):
                log.warning("job %s: lost the database connection (%s); giving it back",
                            job.job_id, type(exc).__name__)
                await self._give_back(job)
                return
            # A bug, not a provider error (those are handled by the handler): retry
            # with backoff, so a deploy that fixes it picks the job up again.
            log.exception("job %s crashed", job.job_id)
            try:
                async with self.db.as_worker() as tx:
                    retry = backoff_seconds(job.attempts) if job.attempts < job.max_attempts else None
                    await repo.fail(tx, job=job, worker_id=self.worker_id, error="internal error in the worker",
                                    retry_in=retry)
            except psycopg.Error:
                log.exception("could not record the failure of job %s; its lease will expire", job.job_id)
        finally:
            self.running.pop(job.job_id, None)
            self._wake.set()

    async def retry_on_connection_loss(self, transaction: Callable[[], Awaitable[T]]) -> T:
        """Runs `transaction` (a function that opens its own) again when the connection
        was lost: for the transaction that records a finished job's result, which is
        worth more than a retry. Only for transactions that check the lease first, so a
        second run after a commit whose acknowledgement was lost changes nothing."""
        for delay in (0.5, 1.0, 2.0):
            try:
                return await transaction()
            except psycopg.OperationalError as exc:
                if not connection_lost(exc):
                    raise
                log.warning("lost the database connection (%s); retrying in %.1f s", type(exc).__name__, delay)
                await self._recheck_pool()
                await asyncio.sleep(delay)
        return await transaction()

    async def _give_back(self, job: ClaimedJob) -> None:
        """Release the job without spending an attempt, retrying while the database
        comes back; if it stays away longer, the lease expires and any worker rescues
        the job."""
        for delay in (0.5, 1.0, 2.0, 4.0):
            await self._recheck_pool()
            try:
                async with self.db.as_worker() as tx:
                    await repo.release(tx, job_ids=[job.job_id], worker_id=self.worker_id)
                return
            except psycopg.OperationalError:
                await self._sleep(delay)
        log.warning("could not give job %s back; its lease will expire", job.job_id)

    async def _recheck_pool(self) -> None:
        """Drop the pool's dead connections (all of them died together in a restart)."""
        try:
            await self.db.recheck()
        except Exception:  # a check that fails changes nothing: the next statement retries
            log.debug("pool check failed", exc_info=True)

    async def _drain(self) -> None:
        """Shutdown: let running jobs finish within the grace period, then give the
        rest back to the queue."""
        if not self.running:
            return
        tasks = [r.task for r in self.running.values()]
        _, pending = await asyncio.wait(tasks, timeout=self.options.grace_seconds)
        if not pending:
            return
        leftover = [job_id for job_id, r in self.running.items() if r.task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            async with self.db.as_worker() as tx:
                released = await repo.release(tx, job_ids=leftover, worker_id=self.worker_id)
            log.info("released %d unfinished job(s) back to the queue", released)
        except psycopg.Error:
            log.exception("could not release %d job(s); their leases will expire", len(leftover))

    # --- background duties ------------------------------------------------------------

    async def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute("LISTEN studio_jobs")
                    await conn.execute("LISTEN studio_webhooks")
                    self._wake.set()  # catch up on anything enqueued while not listening
                    async for notify in conn.notifies():
                        if notify.channel == "studio_jobs":
                            self._wake.set()
                        else:
                            self._webhook_arrived(notify.payload)
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", type(exc).__name__)
                await self._sleep(1.0)

    def _webhook_arrived(self, generation_id: str) -> None:
        try:
            event = self._webhook_events.get(UUID(generation_id))
        except ValueError:
            return
        if event is not None:
            event.set()

    async def webhook_arrived(self, generation_id: UUID, timeout: float) -> bool:
        """Waits up to `timeout` seconds; True as soon as a signed webhook about this
        generation was recorded (NOTIFY studio_webhooks from public.record_webhook).
        While the LISTEN connection is down it simply times out: callers poll then."""
        event = self._webhook_events.setdefault(generation_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            event.clear()

    def forget_webhooks(self, generation_id: UUID) -> None:
        self._webhook_events.pop(generation_id, None)

    async def _every(self, seconds: float, duty: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await duty()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("%s failed (%s); will retry", duty.__name__, type(exc).__name__)
                if connection_lost(exc):
                    await self._recheck_pool()
            except Exception:
                log.exception("%s failed", duty.__name__)

    async def _heartbeat(self) -> None:
        if not self.running:
            return
        job_ids = list(self.running)
        async with self.db.as_worker() as tx:
            held = await repo.heartbeat(tx, worker_id=self.worker_id, job_ids=job_ids,
                                        lease_seconds=self.options.lease_seconds)
        for job_id in job_ids:
            running = self.running.get(job_id)
            if running is None:
                continue
            if job_id not in held:
                log.warning("lost the lease of job %s; stopping it", job_id)
                running.task.cancel()
            elif held[job_id] == "canceled":
                log.info("job %s was cancelled by its owner", job_id)
                running.cancel.set()

    async def _rescue(self) -> None:
        async with self.db.as_worker() as tx:
            rescued = await repo.rescue_expired(tx)
        if rescued:
            log.warning("re-queued %d job(s) whose worker stopped responding", rescued)
            self._wake.set()

    async def _cleanup_storage(self) -> None:
        async with self.db.as_worker() as tx:
            for deletion in await repo.due_deletions(tx, limit=50):
                try:
                    await self._remove(deletion)
                except Exception as exc:  # the store is down: keep the row, try later
                    await repo.deletion_failed(tx, deletion_id=deletion.id, error=str(exc),
                                               retry_in=backoff_seconds(deletion.attempts + 1))
                else:
                    await repo.deletion_done(tx, deletion_id=deletion.id)

    async def _remove(self, deletion: repo.PendingDeletion) -> None:
        bucket, key = deletion.bucket, deletion.key
        if deletion.mode == "erase":
            await self.storage.erase(bucket, key)  # type: ignore[arg-type]
        elif deletion.mode == "erase_prefix":
            await self.storage.erase_prefix(bucket, key)  # type: ignore[arg-type]
        elif deletion.mode == "retire" and self.options.media_recovery_seconds > 0:
            await self.storage.retire(bucket, key)  # type: ignore[arg-type]
        else:
            await self.storage.delete(bucket, key)  # type: ignore[arg-type]

    async def _housekeeping(self) -> dict[str, int]:
        """Retention (several workers may run it at once: every step is idempotent)."""
        options = self.options
        async with self.db.as_worker() as tx:
            done = await repo.apply_retention(tx, share_days=options.share_retention_days,
                                              upload_days=options.upload_orphan_days)
        if options.media_recovery_seconds > 0:
            done["purged_retired_files"] = await self.storage.purge_retired(options.media_recovery_seconds)
        done["stale_temp_files"] = await self.storage.remove_stale_temp(options.temp_max_age_seconds)
        if options.scratch_dir is not None:
            done["stale_scratch_dirs"] = await asyncio.to_thread(
                remove_stale_dirs, options.scratch_dir, options.temp_max_age_seconds)
        if any(done.values()):
            log.info("housekeeping: %s", ", ".join(f"{k} {v}" for k, v in done.items() if v))
        return done

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
