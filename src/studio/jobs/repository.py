"""The queue's SQL, run by workers (WorkerScope, role studio_worker, under its policies).

Lifecycle of a job (docs/jobs.md has the diagram):

    queued --claim--> running --complete--> succeeded
       ^                 |  \\--fail (no attempts left / not retryable)--> failed
       |                 |   \\--cancelled by the user--> canceled
       +--retry/release--+
       +--rescue (lease expired: the worker died)--+

Every transition out of `running` names the worker holding the lease, so a worker
that lost its lease (it was presumed dead and the job re-run elsewhere) changes
nothing: execution is at least once, the effect exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from studio.db.scopes import WorkerScope


@dataclass(frozen=True)
class ClaimedJob:
    job_id: UUID
    kind: str
    attempts: int
    max_attempts: int
    user_id: UUID | None
    generation_id: UUID | None
    runnable: bool                  # False: the generation was cancelled or deleted meanwhile
    payload: dict[str, Any]
    generation: dict[str, Any] | None  # type, prompt, params, provider, provider_model, model_config


_CLAIM = """
WITH next AS (
    SELECT j.id FROM public.jobs j
     WHERE j.status = 'queued' AND j.run_after <= pg_catalog.now()
     ORDER BY j.priority DESC, j.fair_rank, j.run_after, j.id
     LIMIT %(batch)s
     FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE public.jobs j
       SET status = 'running', attempts = j.attempts + 1, worker_id = %(worker)s,
           lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => %(lease)s),
           heartbeat_at = pg_catalog.now(), last_error = NULL
      FROM next WHERE j.id = next.id
    RETURNING j.id, j.kind, j.attempts, j.max_attempts, j.user_id, j.generation_id, j.payload
), started AS (
    UPDATE public.generations g
       SET status = 'running', started_at = COALESCE(g.started_at, pg_catalog.now()), attempts = g.attempts + 1
      FROM claimed c
     WHERE g.id = c.generation_id AND g.status IN ('queued', 'running')
    RETURNING g.id, g.type, g.prompt, g.params, g.provider, g.model_id
)
SELECT c.id AS job_id, c.kind, c.attempts, c.max_attempts, c.user_id, c.generation_id, c.payload,
       s.id IS NOT NULL AS runnable, s.type, s.prompt, s.params, s.provider,
       m.provider_model, m.config AS model_config
  FROM claimed c
  LEFT JOIN started s ON s.id = c.generation_id
  LEFT JOIN public.model_registry m ON m.id = s.model_id
"""


async def claim(tx: WorkerScope, *, worker_id: str, batch: int, lease_seconds: float) -> list[ClaimedJob]:
    cur = await tx.conn.execute(_CLAIM, {"batch": batch, "worker": worker_id, "lease": lease_seconds})
    jobs = []
    for row in await cur.fetchall():
        generation = None
        if row["generation_id"] is not None and row["runnable"]:
            generation = {k: row[k] for k in ("type", "prompt", "params", "provider", "provider_model", "model_config")}
        jobs.append(ClaimedJob(row["job_id"], row["kind"], row["attempts"], row["max_attempts"], row["user_id"],
                               row["generation_id"], row["runnable"] or row["generation_id"] is None,
                               row["payload"], generation))
    return jobs


async def heartbeat(tx: WorkerScope, *, worker_id: str, job_ids: list[UUID],
                    lease_seconds: float) -> dict[UUID, str | None]:
    """Extends the leases still held; returns job id -> its generation's status (the
    worker cancels jobs whose generation was cancelled). Jobs missing from the result
    are no longer this worker's."""
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs j
           SET lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => %s),
               heartbeat_at = pg_catalog.now()
         WHERE j.id = ANY(%s) AND j.worker_id = %s AND j.status = 'running'
        RETURNING j.id, (SELECT g.status FROM public.generations g WHERE g.id = j.generation_id) AS generation_status
        """,
        (lease_seconds, job_ids, worker_id),
    )
    return {row["id"]: row["generation_status"] for row in await cur.fetchall()}


async def report_progress(tx: WorkerScope, *, generation_id: UUID, percent: int) -> None:
    await tx.conn.execute(
        "UPDATE public.generations SET progress = %s WHERE id = %s AND status = 'running' AND progress <> %s",
        (percent, generation_id, percent))


async def record_provider_job(tx: WorkerScope, *, generation_id: UUID, provider_job_id: str) -> None:
    await tx.conn.execute(
        "UPDATE public.generations SET provider_job_id = %s WHERE id = %s AND status = 'running'",
        (provider_job_id, generation_id))


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


async def succeed_generation(tx: WorkerScope, *, generation_id: UUID, result: dict[str, Any]) -> bool:
    """False when the generation is no longer running (cancelled meanwhile)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.generations
           SET status = 'succeeded', progress = 100, result = %s, error = NULL, finished_at = pg_catalog.now()
         WHERE id = %s AND status = 'running'
        RETURNING id
        """,
        (Jsonb(result), generation_id))
    return await cur.fetchone() is not None


async def fail(tx: WorkerScope, *, job: ClaimedJob, worker_id: str, error: str, retry_in: float | None) -> str:
    """Retry later (retry_in seconds) or fail for good; returns the job's new status."""
    status = "queued" if retry_in is not None else "failed"
    cur = await tx.conn.execute(
        """
        UPDATE public.jobs
           SET status = %s, last_error = %s, worker_id = NULL, lease_expires_at = NULL,
               run_after = pg_catalog.now() + pg_catalog.make_interval(secs => %s)
         WHERE id = %s AND worker_id = %s AND status = 'running'
        RETURNING id
        """,
        (status, error[:2000], retry_in or 0, job.job_id, worker_id))
    if await cur.fetchone() is None:
        return "lost"
    if job.generation_id is not None:
        await tx.conn.execute(
            """
            UPDATE public.generations
               SET status = %s, error = %s,
                   finished_at = CASE WHEN %s = 'failed' THEN pg_catalog.now() END
             WHERE id = %s AND status = 'running'
            """,
            (status, error[:2000], status, job.generation_id))
    return status


async def cancel(tx: WorkerScope, *, job_id: UUID, worker_id: str) -> None:
    await finish_job(tx, job_id=job_id, worker_id=worker_id, status="canceled")


async def release(tx: WorkerScope, *, job_ids: list[UUID], worker_id: str) -> int:
    """Give leased jobs back without spending an attempt (graceful shutdown)."""
    cur = await tx.conn.execute(
        """
        WITH released AS (
            UPDATE public.jobs
               SET status = 'queued', attempts = GREATEST(attempts - 1, 0), worker_id = NULL,
                   lease_expires_at = NULL, run_after = pg_catalog.now()
             WHERE id = ANY(%s) AND worker_id = %s AND status = 'running'
            RETURNING id, generation_id
        ), requeued AS (
            UPDATE public.generations g SET status = 'queued', attempts = GREATEST(g.attempts - 1, 0)
              FROM released r WHERE g.id = r.generation_id AND g.status = 'running'
            RETURNING g.id
        )
        SELECT count(*) AS n FROM released
        """,
        (job_ids, worker_id))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def rescue_expired(tx: WorkerScope) -> int:
    """Jobs whose worker stopped renewing its lease (it died) go back to the queue, or
    fail when they have no attempts left."""
    cur = await tx.conn.execute(
        """
        WITH expired AS (
            UPDATE public.jobs j
               SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END,
                   worker_id = NULL, lease_expires_at = NULL, run_after = pg_catalog.now(),
                   last_error = 'the worker running this job stopped responding'
             WHERE j.status = 'running' AND j.lease_expires_at < pg_catalog.now()
            RETURNING j.id, j.generation_id, j.status
        ), generations AS (
            UPDATE public.generations g
               SET status = e.status,
                   error = CASE WHEN e.status = 'failed' THEN 'the worker running this job stopped responding' END,
                   finished_at = CASE WHEN e.status = 'failed' THEN pg_catalog.now() END
              FROM expired e WHERE g.id = e.generation_id AND g.status = 'running'
            RETURNING g.id
        )
        SELECT count(*) AS n FROM expired
        """)
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


# --- media of a generation, and the storage outbox -----------------------------------

async def plan_upload(tx: WorkerScope, *, bucket: str, key: str, grace_seconds: float) -> UUID:
    """An outbox row that deletes `key` later unless the result is recorded first."""
    cur = await tx.conn.execute(
        """
        INSERT INTO public.storage_deletions (bucket, key, run_after)
        VALUES (%s, %s, pg_catalog.now() + pg_catalog.make_interval(secs => %s))
        RETURNING id
        """,
        (bucket, key, grace_seconds))
    row = await cur.fetchone()
    assert row is not None
    return row["id"]


async def record_media(tx: WorkerScope, *, media_id: UUID, owner_id: UUID, generation_id: UUID, bucket: str,
                       key: str, size: int, content_type: str, sha256: str, planned_deletion: UUID) -> None:
    await tx.conn.execute(
        """
        INSERT INTO public.media_objects (id, owner_id, generation_id, bucket, key, size_bytes, content_type,
                                          checksum_sha256)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (media_id, owner_id, generation_id, bucket, key, size, content_type, sha256))
    await tx.conn.execute("DELETE FROM public.storage_deletions WHERE id = %s", (planned_deletion,))


async def record_usage(tx: WorkerScope, *, user_id: UUID, generation_id: UUID, kind: str, provider: str,
                       model: str | None, units: float, cost_cents: int) -> None:
    await tx.conn.execute(
        """
        INSERT INTO public.api_usage (user_id, generation_id, kind, provider, model, units, cost_cents)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        (user_id, generation_id, kind, provider, model, units, cost_cents))


@dataclass(frozen=True)
class PendingDeletion:
    id: UUID
    bucket: str
    key: str
    mode: str          # delete | retire | erase (migration 0013) | erase_prefix (0014)
    attempts: int
    created_at: datetime


async def due_deletions(tx: WorkerScope, *, limit: int) -> list[PendingDeletion]:
    """Locks up to `limit` due outbox rows for this transaction."""
    cur = await tx.conn.execute(
        """
        SELECT id, bucket, key, mode, attempts, created_at FROM public.storage_deletions
         WHERE run_after <= pg_catalog.now()
         ORDER BY run_after LIMIT %s
         FOR UPDATE SKIP LOCKED
        """,
        (limit,))
    return [PendingDeletion(**row) for row in await cur.fetchall()]


async def deletion_done(tx: WorkerScope, *, deletion_id: UUID) -> None:
    await tx.conn.execute("DELETE FROM public.storage_deletions WHERE id = %s", (deletion_id,))


async def deletion_failed(tx: WorkerScope, *, deletion_id: UUID, error: str, retry_in: float) -> None:
    await tx.conn.execute(
        """
        UPDATE public.storage_deletions
           SET attempts = attempts + 1, last_error = %s,
               run_after = pg_catalog.now() + pg_catalog.make_interval(secs => %s)
         WHERE id = %s
        """,
        (error[:2000], retry_in, deletion_id))


async def apply_retention(tx: WorkerScope, *, share_days: int, upload_days: int) -> dict[str, int]:
    """Ended shares and unused uploads (public.apply_retention, migration 0015)."""
    cur = await tx.conn.execute("SELECT public.apply_retention(%s, %s) AS done", (share_days, upload_days))
    row = await cur.fetchone()
    return {k: int(v) for k, v in (row["done"] if row else {}).items()}
