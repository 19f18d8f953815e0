"""The worker process: claims jobs from Postgres and runs them.

Stateless by design: everything that matters is in the database, so any number of
workers may run on any number of machines, and a worker may die at any moment.

- Wake-ups: LISTEN studio_jobs on a dedicated connection; polling every
  `poll_seconds` as a fallback (a missed notification only costs latency).
- Leases: a claimed job belongs to this worker until `lease_seconds` from its last
  heartbeat. Heartbeats run every lease/3; a job whose lease was lost, or whose
  generation the user cancelled, is stopped.
- Rescue: every worker periodically re-queues jobs whose lease expired (their worker
  died); retries back off exponentially up to max_attempts.
- Outbox: workers also delete the files listed in storage_deletions.
- SIGTERM: stop claiming, give running jobs `grace_seconds` to finish, release the
  rest back to the queue without spending an attempt, exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

import psycopg

from studio.db.scopes import WorkerDatabase
from studio.jobs import repository as repo
from studio.jobs.repository import ClaimedJob
from studio.storage.base import Storage

log = logging.getLogger("studio.worker")

JobHandler = Callable[["Worker", ClaimedJob, asyncio.Event], Awaitable[None]]


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
            self._listen(), self._every(self.options.lease_seconds / 3, self._heartbeat),
            self._every(self.options.rescue_every, self._rescue),
            self._every(self.options.cleanup_every, self._cleanup_storage))]
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
                    async with self.db.as_worker() as tx:
                        claimed = await repo.claim(tx, worker_id=self.worker_id, batch=free,
                                                   lease_seconds=self.options.lease_seconds)
                except (psycopg.OperationalError, psycopg.errors.AdminShutdown) as exc:
                    # The database restarts: keep the jobs we have, retry shortly.
                    log.warning("claim failed (%s); retrying", type(exc).__name__)
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

    def _start(self, job: ClaimedJob) -> None:
        cancel = asyncio.Event()
        task = asyncio.create_task(self._execute(job, cancel), name=f"job-{job.job_id}")
        self.running[job.job_id] = _Running(job, task, cancel)

    async def _execute(self, job: ClaimedJob, cancel: asyncio.Event) -> None:
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
        except Exception:
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

    async def _drain(self) -> None:
        """Shutdown: let running jobs finish within the grace period, then give the
        rest back to the queue."""
        if not self.running:
            return
        tasks = [r.task for r in self.running.values()]
        done, pending = await asyncio.wait(tasks, timeout=self.options.grace_seconds)
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
                    self._wake.set()  # catch up on anything enqueued while not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", type(exc).__name__)
                await self._sleep(1.0)

    async def _every(self, seconds: float, duty: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await duty()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("%s failed (%s); will retry", duty.__name__, type(exc).__name__)
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
                    await self.storage.delete(deletion.bucket, deletion.key)  # type: ignore[arg-type]
                except Exception as exc:  # the store is down: keep the row, try later
                    await repo.deletion_failed(tx, deletion_id=deletion.id, error=str(exc),
                                               retry_in=backoff_seconds(deletion.attempts + 1))
                else:
                    await repo.deletion_done(tx, deletion_id=deletion.id)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
