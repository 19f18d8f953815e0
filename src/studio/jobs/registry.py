"""Job kinds: what the worker runs for each `jobs.kind`, registered in one place
(studio/worker.py).

A kind is its handler, `run(job)`, plus hooks for kinds that keep a row of their own
in step with their job (a generation's status mirrors its job's). The queue calls the
hooks in the same transaction as the job's own change: when it moves a job without the
handler (given back at shutdown, rescued after its worker died, failed because the
handler crashed), and when the handler fails its job (`JobContext.fail`). A kind with
nothing to keep in step is a plain function (`Registry({"maintenance": handle})`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar
from uuid import UUID

from studio.db.scopes import WorkerScope
from studio.jobs.repository import ClaimedJob, MovedJob

if TYPE_CHECKING:
    from studio.jobs.context import JobContext

Handler = Callable[["JobContext"], Awaitable[None]]
T = TypeVar("T")


class JobKind:
    """Base class of a job kind. Override `run`, and the hooks the kind needs."""

    # A LISTEN channel whose notifications end `JobContext.wait_for_event` early: its
    # payload names the job (see event_key), e.g. a provider's webhook arriving.
    event_channel: str | None = None

    async def run(self, job: JobContext) -> None:
        raise NotImplementedError

    def event_key(self, job: ClaimedJob) -> str | None:
        """The notification payload that concerns this job."""
        return None

    async def report_progress(self, tx: WorkerScope, job: ClaimedJob, percent: int) -> None:
        """Write a progress figure where the job's owner sees it (JobContext.progress throttles)."""

    async def released(self, tx: WorkerScope, jobs: Sequence[ClaimedJob]) -> None:
        """The jobs went back to the queue unfinished, their attempt not spent."""

    async def rescued(self, tx: WorkerScope, moved: Sequence[MovedJob]) -> None:
        """Their worker stopped renewing the lease: queued again, or failed for good."""

    async def failed(self, tx: WorkerScope, job: ClaimedJob, status: Literal["queued", "failed"],
                     error: str) -> None:
        """The run failed: retried later ('queued') or for good ('failed')."""

    async def cancelled(self, tx: WorkerScope, jobs: Sequence[ClaimedJob]) -> set[UUID]:
        """Which of these running jobs their owner cancelled (asked at every heartbeat)."""
        return set()


class _FunctionKind(JobKind):
    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def run(self, job: JobContext) -> None:
        await self._handler(job)


class Registry:
    """Job kinds by name."""

    def __init__(self, kinds: Mapping[str, JobKind | Handler] | None = None) -> None:
        self._kinds: dict[str, JobKind] = {}
        for name, kind in (kinds or {}).items():
            self.register(name, kind)

    def register(self, name: str, kind: JobKind | Handler) -> None:
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is registered twice")
        self._kinds[name] = kind if isinstance(kind, JobKind) else _FunctionKind(kind)

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def event_channels(self) -> set[str]:
        return {kind.event_channel for kind in self._kinds.values() if kind.event_channel}

    def by_kind(self, items: Sequence[T], name: Callable[[T], str]) -> dict[JobKind, list[T]]:
        """`items` (jobs, or jobs with their new status) grouped by their registered kind."""
        grouped: dict[JobKind, list[T]] = {}
        for item in items:
            kind = self._kinds.get(name(item))
            if kind is not None:
                grouped.setdefault(kind, []).append(item)
        return grouped
