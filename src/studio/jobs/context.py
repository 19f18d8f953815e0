"""What a handler gets for one job: the job's row, a worker transaction, storage, a
progress reporter, the cancellation signal, a wait for an external event, and the
queue's transitions for this job. Not the worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Literal, TypeVar

from studio.db.scopes import WorkerScope
from studio.jobs import repository as repo
from studio.jobs.registry import JobKind
from studio.jobs.repository import ClaimedJob
from studio.storage.base import Storage

if TYPE_CHECKING:
    from studio.jobs.worker import Worker

T = TypeVar("T")
PROGRESS_INTERVAL = 0.5  # seconds between progress writes


class JobContext:
    def __init__(self, worker: Worker, job: ClaimedJob, kind: JobKind, cancel: asyncio.Event) -> None:
        self.job = job
        self.storage: Storage = worker.storage
        self.worker_id = worker.worker_id
        self._worker, self._kind, self._cancel = worker, kind, cancel
        self._last_write = 0.0
        self._last_percent = -1

    @asynccontextmanager
    async def scope(self) -> AsyncIterator[WorkerScope]:
        """A transaction as the worker's role."""
        async with self._worker.db.as_worker() as tx:
            yield tx

    # --- signals ---------------------------------------------------------------------

    def cancelled(self) -> bool:
        """True once the job's owner cancelled it (seen at a heartbeat)."""
        return self._cancel.is_set()

    async def wait_cancelled(self) -> None:
        await self._cancel.wait()

    async def progress(self, percent: int) -> None:
        """Report 0-100; cheap to call often: writes at most every PROGRESS_INTERVAL
        seconds (and always 100)."""
        percent = max(0, min(100, int(percent)))
        now = time.monotonic()
        if percent == self._last_percent or (now - self._last_write < PROGRESS_INTERVAL and percent < 100):
            return
        self._last_write, self._last_percent = now, percent
        async with self.scope() as tx:
            await self._kind.report_progress(tx, self.job, percent)

    async def wait_for_event(self, timeout: float) -> bool:
        """Waits up to `timeout` seconds; True as soon as a notification on the kind's
        event channel names this job. While the LISTEN connection is down it simply
        times out: callers poll then."""
        key = self._kind.event_key(self.job)
        if self._kind.event_channel is None or key is None:
            await asyncio.sleep(timeout)
            return False
        return await self._worker.event_arrived(self._kind.event_channel, key, timeout)

    # --- the job's transitions -----------------------------------------------------------

    async def complete(self) -> bool:
        """Succeeded, batched with every other job completed meanwhile (one statement).
        For jobs that record nothing else when they succeed. False when this worker no
        longer held the job."""
        return await self._worker.complete(self.job)

    async def hold_lease(self, tx: WorkerScope) -> bool:
        """Locks the job in `tx` if this worker still holds it: a transaction recording a
        result checks this first, so a run that lost its lease writes nothing."""
        return await repo.hold_lease(tx, job_id=self.job.job_id, worker_id=self.worker_id)

    async def finish(self, tx: WorkerScope, status: Literal["succeeded", "canceled"] = "succeeded") -> bool:
        """In the handler's own transaction, with the result it records."""
        return await repo.finish_job(tx, job_id=self.job.job_id, worker_id=self.worker_id, status=status)

    async def cancel(self) -> None:
        async with self.scope() as tx:
            await self.finish(tx, "canceled")

    async def fail(self, error: str, *, retryable: bool) -> str:
        """Retried with backoff while attempts are left and the error is retryable, else
        failed for good; the kind's `failed` hook runs in the same transaction. Returns
        the job's new status ("lost" when this worker no longer held it)."""
        return await self._worker.fail(self.job, self._kind, error, retryable=retryable)

    async def retry_on_connection_loss(self, transaction: Callable[[], Awaitable[T]]) -> T:
        """Runs `transaction` (a function that opens its own scope) again when the
        database connection was lost: for the transaction that records a finished job's
        result, which is worth more than a retry. Only for transactions that check the
        lease first, so a second run after a commit whose acknowledgement was lost
        changes nothing."""
        return await self._worker.retry_on_connection_loss(transaction)
