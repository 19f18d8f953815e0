"""The worker process: claims jobs from Postgres and runs them.

Stateless by design: everything that matters is in the database, so any number of
workers may run on any number of machines, and a worker may die at any moment.

- Wake-ups: LISTEN studio_jobs on a dedicated connection; polling every
  `poll_seconds` as a fallback (a missed notification only costs latency). The same
  connection hears the event channels job kinds declare (a provider's webhook ends
  the wait of the generation it is about).
- Leases: a claimed job belongs to this worker until `lease_seconds` from its last
  heartbeat. Heartbeats run every lease/3; a job whose lease was lost is stopped, and
  one its owner cancelled (its kind says which) is told so.
- Capabilities: a worker claims only jobs that require nothing, or a capability it
  offers (`WorkerOptions.provides`; jobs.requires), so a job that needs the local
  extra waits for a worker that has it.
- Rescue: every worker periodically re-queues jobs whose lease expired (their worker
  died); retries back off exponentially up to max_attempts.
- Duties: periodic work the process runs besides jobs (the storage outbox,
  housekeeping), handed in by whoever assembles the worker (studio/worker.py).
- SIGTERM: stop claiming, give running jobs `grace_seconds` to finish, release the
  rest back to the queue without spending an attempt, exit.
- Lost database connection (a restart, a failover) while running a job: the job is
  not at fault, so it goes back to the queue without spending an attempt.
- Batched completion: handlers that write nothing but the job's status call
  `JobContext.complete`, which marks every job completed meanwhile in one statement.

The worker knows no domain: what runs for each kind, and how a kind's own rows follow
its job, comes from the Registry (jobs/registry.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import psycopg

from studio.db import connections
from studio.db.scopes import WorkerDatabase
from studio.jobs import repository as repo
from studio.jobs.context import JobContext
from studio.jobs.registry import JobKind, Registry
from studio.jobs.repository import ClaimedJob
from studio.monitoring.logs import job_id_var
from studio.storage.base import Storage, StorageError

log = logging.getLogger("studio.worker")

T = TypeVar("T")


def connection_lost(exc: BaseException) -> bool:
    """The database went away (restart, failover, network), as opposed to an error of
    the statement itself. psycopg files cancelled statements (statement_timeout) under
    OperationalError too; those are the job's own doing."""
    return isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled)


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
    # The capabilities this worker offers: it claims jobs that require one of them, or none.
    provides: frozenset[str] = frozenset()
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


@dataclass(frozen=True)
class Duty:
    """Periodic work of the worker process besides jobs; a failure is logged and the
    duty runs again at its next turn."""

    name: str
    every: float
    run: Callable[[], Awaitable[Any]]


@dataclass
class _Running:
    job: ClaimedJob
    task: asyncio.Task[None]
    cancel: asyncio.Event


class Worker:
    def __init__(self, db: WorkerDatabase, conninfo: str, storage: Storage, kinds: Registry,
                 options: WorkerOptions | None = None, duties: Sequence[Duty] = ()) -> None:
        self.db = db
        self.conninfo = conninfo  # for the LISTEN connection, outside the pool
        self.storage = storage
        self.kinds = kinds
        self.options = options or WorkerOptions()
        self.duties = tuple(duties)
        self.running: dict[UUID, _Running] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.completed = 0
        self._completions: dict[UUID, asyncio.Future[bool]] = {}
        self._completions_due = asyncio.Event()
        self._events: dict[tuple[str, str], asyncio.Event] = {}  # (channel, payload) -> its waiter

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
            *(self._every(duty.every, duty.run, duty.name) for duty in self.duties))]
        log.info("worker %s started (concurrency %d; offers %s)", self.worker_id, self.options.concurrency,
                 ", ".join(sorted(self.options.provides)) or "no capabilities")
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
                                                   lease_seconds=self.options.lease_seconds,
                                                   provides=self.options.provides)
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
        statement and one commit for all of them (JobContext.complete). False when this
        worker no longer held the job."""
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
        stale = self.running.get(job.job_id)
        if stale is not None:
            # The queue gave the job out again, to this worker: an earlier run here lost it
            # (its lease expired while it was cut off from the database, giving it back).
            # That run holds nothing any more; stop it before it gives back this claim.
            log.warning("job %s was claimed again while an earlier run of it here had lost it; stopping that run",
                        job.job_id)
            stale.task.cancel()
        cancel = asyncio.Event()
        task = asyncio.create_task(self._execute(job, cancel), name=f"job-{job.job_id}")
        entry = _Running(job, task, cancel)
        self.running[job.job_id] = entry
        task.add_done_callback(lambda _: self._forget(entry))

    def _forget(self, entry: _Running) -> None:
        """A run ended. A done callback, not a `finally`: a task cancelled before it began
        (the heartbeat found its lease lost) never runs its body, and its slot must still
        be freed. Only its own entry: a newer claim of the same job may have replaced it."""
        job = entry.job
        if self.running.get(job.job_id) is entry:
            del self.running[job.job_id]
            kind = self.kinds.get(job.kind)
            if kind is not None and kind.event_channel and (key := kind.event_key(job)) is not None:
                self._events.pop((kind.event_channel, key), None)
        self._wake.set()

    async def _execute(self, job: ClaimedJob, cancel: asyncio.Event) -> None:
        job_id_var.set(str(job.job_id))  # this task's log lines carry the job id
        kind = self.kinds.get(job.kind)
        try:
            if kind is None:
                async with self.db.as_worker() as tx:
                    await repo.fail(tx, job_id=job.job_id, worker_id=self.worker_id,
                                    error=f"no handler for jobs of kind {job.kind!r}", retry_in=None)
                return
            await kind.run(JobContext(self, job, kind, cancel))
            self.completed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if connection_lost(exc):
                log.warning("job %s: lost the database connection (%s); giving it back",
                            job.job_id, type(exc).__name__)
                await self._give_back(job)
                return
            if type(exc) is StorageError:
                # The file store failed (a full disk, S3 unreachable): an outage for the
                # operator, not a bug; retried with backoff like one, logged in a line.
                log.error("job %s: the file store failed (%s); retrying", job.job_id, exc)
                reason = "the file store failed"
            else:
                # A bug, not a provider error (those are handled by the handler): retry
                # with backoff, so a deploy that fixes it picks the job up again.
                log.exception("job %s crashed", job.job_id)
                reason = "internal error in the worker"
            try:
                assert kind is not None
                await self.fail(job, kind, reason, retryable=True)
            except psycopg.Error:
                log.exception("could not record the failure of job %s; its lease will expire", job.job_id)

    async def fail(self, job: ClaimedJob, kind: JobKind, error: str, *, retryable: bool) -> str:
        """JobContext.fail: the job retried with backoff or failed for good, and its
        kind's rows told so, in one transaction."""
        retry_in = backoff_seconds(job.attempts) if retryable and job.attempts < job.max_attempts else None
        async with self.db.as_worker() as tx:
            status = await repo.fail(tx, job_id=job.job_id, worker_id=self.worker_id, error=error, retry_in=retry_in)
            if status != "lost":
                await kind.failed(tx, job, status, error)
        log.info("job %s: %s (%s)", job.job_id, "retrying" if status == "queued" else status, error)
        return status

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
                await self._release([job.job_id])
                return
            except psycopg.OperationalError:
                await self._sleep(delay)
        log.warning("could not give job %s back; its lease will expire", job.job_id)

    async def _release(self, job_ids: list[UUID]) -> int:
        async with self.db.as_worker() as tx:
            released = await repo.release(tx, job_ids=job_ids, worker_id=self.worker_id)
            for kind, jobs in self.kinds.by_kind(released, lambda job: job.kind).items():
                await kind.released(tx, jobs)
        return len(released)

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
            released = await self._release(leftover)
            log.info("released %d unfinished job(s) back to the queue", released)
        except psycopg.Error:
            log.exception("could not release %d job(s); their leases will expire", len(leftover))

    # --- background duties ------------------------------------------------------------

    async def _listen(self) -> None:
        channels = sorted(self.kinds.event_channels())
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    for channel in ["studio_jobs", *channels]:
                        await connections.listen(conn, channel)
                    self._wake.set()  # catch up on anything enqueued while not listening
                    async for notify in conn.notifies():
                        if notify.channel == "studio_jobs":
                            self._wake.set()
                        elif (event := self._events.get((notify.channel, notify.payload))) is not None:
                            event.set()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", type(exc).__name__)
                await self._sleep(1.0)

    async def event_arrived(self, channel: str, key: str, timeout: float) -> bool:
        """Waits up to `timeout` seconds; True as soon as NOTIFY `channel` with payload
        `key` arrives (JobContext.wait_for_event)."""
        event = self._events.setdefault((channel, key), asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            event.clear()  # stays registered: one arriving before the next wait ends it at once

    async def _every(self, seconds: float, duty: Callable[[], Awaitable[Any]], name: str | None = None) -> None:
        name = name or duty.__name__
        while True:
            await asyncio.sleep(seconds)
            try:
                await duty()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("%s failed (%s); will retry", name, type(exc).__name__)
                if connection_lost(exc):
                    await self._recheck_pool()
            except Exception:
                log.exception("%s failed", name)

    async def _heartbeat(self) -> None:
        if not self.running:
            return
        # The runs as they are now: one claimed again meanwhile is a new run, not this one.
        runs = dict(self.running)
        async with self.db.as_worker() as tx:
            held = await repo.heartbeat(tx, worker_id=self.worker_id, job_ids=list(runs),
                                        lease_seconds=self.options.lease_seconds)
            jobs = [r.job for job_id, r in runs.items() if job_id in held]
            cancelled: set[UUID] = set()
            for kind, of_kind in self.kinds.by_kind(jobs, lambda job: job.kind).items():
                cancelled |= await kind.cancelled(tx, of_kind)
        for job_id, running in runs.items():
            if self.running.get(job_id) is not running or running.task.done():
                continue
            if job_id not in held:
                log.warning("lost the lease of job %s; stopping it", job_id)
                running.task.cancel()
            elif job_id in cancelled:
                log.info("job %s was cancelled by its owner", job_id)
                running.cancel.set()

    async def _rescue(self) -> None:
        async with self.db.as_worker() as tx:
            moved = await repo.rescue_expired(tx)
            for kind, items in self.kinds.by_kind(moved, lambda item: item.job.kind).items():
                await kind.rescued(tx, items)
        if moved:
            log.warning("re-queued %d job(s) whose worker stopped responding", len(moved))
            self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
