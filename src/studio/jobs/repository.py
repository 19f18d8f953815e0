"""The queue's SQL: `public.jobs`, and nothing else.

Workers run it in their own scope (role studio_worker, under its policies); the API
enqueues in the user's transaction, so a job exists if and only if its request
committed.

Lifecycle of a job (docs/jobs.md has the diagram):

    queued --claim--> running --finish--> succeeded | canceled
       ^                 |  \\--fail (no attempts left / not retryable)--> failed
       |                 |
       +--retry/release--+
       +--rescue (lease expired: the worker died)--+

Every transition out of `running` names the worker holding the lease, so a worker
that lost its lease (it was presumed dead and the job re-run elsewhere) changes
nothing: execution is at least once, the effect exactly once.

`generation_id` is a column of the table (the generation a job of kind 'generation'
runs); the queue carries it like the payload, without knowing what it means. So is
`requires`: a capability the claiming worker must offer (e.g. "diffusers", on the
workers with the local extra); a worker claims only jobs that require nothing or
something it offers, so a job waits for a worker that can run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb

from studio.db.scopes import UserScope, WorkerScope

JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class ClaimedJob:
    """A job's row as its handler and its kind's hooks see it."""

    job_id: UUID
    kind: str
    attempts: int
    max_attempts: int
    user_id: UUID | None
    generation_id: UUID | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class MovedJob:
    """A job the queue moved without its handler (released or rescued), with its new status."""

    job: ClaimedJob
    status: JobStatus


def _job(row: dict[str, Any]) -> ClaimedJob:
    return ClaimedJob(row["id"], row["kind"], row["attempts"], row["max_attempts"], row["user_id"],
                      row["generation_id"], row["payload"])


async def enqueue(tx: UserScope, *, kind: str, generation_id: UUID | None = None,
                  payload: dict[str, Any] | None = None, requires: str | None = None) -> None:
    """In the user's transaction. fair_rank = how many of the user's jobs are queued
    ahead of this one (the claim interleaves users). Fetches nothing, so it can share a
    pipeline's round trip with the statement that created the job's subject."""
    await tx.conn.execute(
        """
        INSERT INTO public.jobs (kind, user_id, generation_id, payload, requires, fair_rank)
        VALUES (%(kind)s, %(user)s, %(generation)s, %(payload)s, %(requires)s,
                (SELECT count(*) FROM public.jobs q WHERE q.user_id = %(user)s AND q.status = 'queued'))
        """,
        {"kind": kind, "user": tx.user.id, "generation": generation_id, "payload": Jsonb(payload or {}),
         "requires": requires})


_CLAIM = """
WITH next AS (
    SELECT j.id FROM public.jobs j
     WHERE j.status = 'queued' AND j.run_after <= pg_catalog.now()
       AND (j.requires IS NULL OR j.requires = ANY(%(provides)s::text[]))
     ORDER BY j.priority DESC, j.fair_rank, j.run_after, j.id
     LIMIT %(batch)s
     FOR UPDATE SKIP LOCKED
)
UPDATE public.jobs j
   SET status = 'running', attempts = j.attempts + 1, worker_id = %(worker)s,
       lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => %(lease)s),
       heartbeat_at = pg_catalog.now(), last_error = NULL
  FROM next WHERE j.id = next.id
RETURNING j.id, j.kind, j.attempts, j.max_attempts, j.user_id, j.generation_id, j.payload
"""


async def claim(tx: WorkerScope, *, worker_id: str, batch: int, lease_seconds: float,
                provides: frozenset[str] = frozenset()) -> list[ClaimedJob]:
    """Up to `batch` due jobs this worker can run (those requiring nothing, or something
    in `provides`), leased to it."""
    cur = await tx.conn.execute(_CLAIM, {"batch": batch, "worker": worker_id, "lease": lease_seconds,
                                         "provides": sorted(provides)})
    return [_job(row) for row in await cur.fetchall()]


async def heartbeat(tx: WorkerScope, *, worker_id: str, job_ids: list[UUID], lease_seconds: float) -> set[UUID]:
    """Extends the leases still held; returns their ids. Jobs missing from the result
    are no longer this worker's."""
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs
           SET lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => %s),
               heartbeat_at = pg_catalog.now()
         WHERE id = ANY(%s) AND worker_id = %s AND status = 'running'
        RETURNING id
        """,
        (lease_seconds, job_ids, worker_id),
    )
    return {row["id"] for row in await cur.fetchall()}


async def hold_lease(tx: WorkerScope, *, job_id: UUID, worker_id: str) -> bool:
    """Locks the job row for the rest of the transaction if this worker still holds it."""
    cur = await tx.conn.execute(
        "SELECT 1 FROM public.jobs WHERE id = %s AND worker_id = %s AND status = 'running' FOR UPDATE",
        (job_id, worker_id))
    return await cur.fetchone() is not None


async def finish_job(tx: WorkerScope, *, job_id: UUID, worker_id: str, status: str) -> bool:
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs SET status = %s, lease_expires_at = NULL
         WHERE id = %s AND worker_id = %s AND status = 'running'
        RETURNING id
        """,
        (status, job_id, worker_id))
    return await cur.fetchone() is not None


async def finish_jobs(tx: WorkerScope, *, job_ids: list[UUID], worker_id: str, status: str) -> set[UUID]:
    """finish_job for many jobs in one statement; returns the ids this worker still held."""
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs SET status = %s, lease_expires_at = NULL
         WHERE id = ANY(%s) AND worker_id = %s AND status = 'running'
        RETURNING id
        """,
        (status, job_ids, worker_id))
    return {row["id"] for row in await cur.fetchall()}


async def fail(tx: WorkerScope, *, job_id: UUID, worker_id: str, error: str,
               retry_in: float | None) -> Literal["queued", "failed", "lost"]:
    """Retry later (retry_in seconds) or fail for good; returns the job's new status,
    or "lost" when this worker no longer held it."""
    status: Literal["queued", "failed"] = "queued" if retry_in is not None else "failed"
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs
           SET status = %s, last_error = %s, worker_id = NULL, lease_expires_at = NULL,
               run_after = pg_catalog.now() + pg_catalog.make_interval(secs => %s)
         WHERE id = %s AND worker_id = %s AND status = 'running'
        RETURNING id
        """,
        (status, error[:2000], retry_in or 0, job_id, worker_id))
    return status if await cur.fetchone() is not None else "lost"


async def release(tx: WorkerScope, *, job_ids: list[UUID], worker_id: str) -> list[ClaimedJob]:
    """Give leased jobs back without spending an attempt (shutdown, lost connection)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs
           SET status = 'queued', attempts = GREATEST(attempts - 1, 0), worker_id = NULL,
               lease_expires_at = NULL, run_after = pg_catalog.now()
         WHERE id = ANY(%s) AND worker_id = %s AND status = 'running'
        RETURNING id, kind, attempts, max_attempts, user_id, generation_id, payload
        """,
        (job_ids, worker_id))
    return [_job(row) for row in await cur.fetchall()]


RESCUE_ERROR = "the worker running this job stopped responding"


async def rescue_expired(tx: WorkerScope) -> list[MovedJob]:
    """Jobs whose worker stopped renewing its lease (it died) go back to the queue, or
    fail when they have no attempts left."""
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs
           SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
               worker_id = NULL, lease_expires_at = NULL, run_after = pg_catalog.now(),
               last_error = %s
         WHERE status = 'running' AND lease_expires_at < pg_catalog.now()
        RETURNING id, kind, attempts, max_attempts, user_id, generation_id, payload, status
        """,
        (RESCUE_ERROR,))
    return [MovedJob(_job(row), row["status"]) for row in await cur.fetchall()]



async def queue_summary(tx: UserScope) -> list[dict[str, Any]]:
    """Per job kind (every kind, also without jobs): queued, due (of those queued, the
    ones whose run_after has come), running, and oldest_queued_age_seconds (how long
    the longest-waiting due job has waited; None when none is due). For an admin's
    scope: public.queue_summary() (migration 0019) returns no row to anyone else."""
    cur = await tx.conn.execute(
        "SELECT kind, queued, due, running, oldest_queued_age_seconds FROM public.queue_summary()")
    return await cur.fetchall()
