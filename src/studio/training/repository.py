"""`public.training_jobs` and `public.trained_models`, and nothing else: the owner's
requests in their scope (RLS: their own rows), the run's progress and outcome in the
worker's. A run's files are media rows, written through the media domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from studio.db.scopes import UserScope, WorkerScope

ACTIVE = ("queued", "preparing", "training")

_RUN = """
SELECT t.id, t.name, t.dataset_id, t.base_model_id, t.status, t.progress::float AS progress, t.current_step,
       t.total_steps, t.loss_history, t.hyperparams, t.samples, t.checkpoint_step, t.provider_job_id, t.error,
       t.started_at,
       t.finished_at, t.created_at, t.updated_at, m.id AS trained_model_id
  FROM public.training_jobs t
  LEFT JOIN public.trained_models m ON m.training_job_id = t.id
"""

_MODEL = """
SELECT m.id, m.name, m.training_job_id, m.weights_media_id, m.provider_weights, m.metrics, m.created_at,
       m.updated_at,
       t.base_model_id, o.size_bytes AS weights_bytes
  FROM public.trained_models m
  LEFT JOIN public.training_jobs t ON t.id = m.training_job_id
  LEFT JOIN public.media_objects o ON o.id = m.weights_media_id
"""


# --- the owner's side -------------------------------------------------------------------------

async def active_runs(tx: UserScope) -> int:
    """The caller's runs not finished yet, counted under a per-user lock (the limit holds
    when two start at once)."""
    await tx.conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 7))",
                          (f"training:{tx.user.id}",))
    cur = await tx.conn.execute(
        "SELECT count(*) AS n FROM public.training_jobs WHERE user_id = %s AND status = ANY(%s)",
        (tx.user.id, list(ACTIVE)))
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def create(tx: UserScope, *, name: str, dataset_id: UUID, base_model_id: UUID, total_steps: int,
                 hyperparams: dict[str, Any]) -> UUID:
    cur = await tx.conn.execute(
        """
        INSERT INTO public.training_jobs (user_id, name, dataset_id, base_model_id, total_steps, hyperparams)
        VALUES (%s, %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (tx.user.id, name, dataset_id, base_model_id, total_steps, Jsonb(hyperparams)))
    row = await cur.fetchone()
    assert row is not None
    run_id: UUID = row["id"]
    return run_id


async def get(tx: UserScope, *, run_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_RUN + " WHERE t.id = %s AND t.user_id = %s", (run_id, tx.user.id))
    return await cur.fetchone()


async def list_runs(tx: UserScope, *, after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    cur = await tx.conn.execute(
        _RUN + """
         WHERE t.user_id = %(user)s
           AND (%(after_ts)s::timestamptz IS NULL OR (t.created_at, t.id) < (%(after_ts)s, %(after_id)s::uuid))
         ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s
        """,
        {"user": tx.user.id, "after_ts": after[0] if after else None, "after_id": after[1] if after else None,
         "limit": limit + 1})
    return await cur.fetchall()


async def cancel(tx: UserScope, *, run_id: UUID) -> tuple[bool, str | None]:
    """(whether this cancelled the run, its status now: None when there is no such run)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.training_jobs SET status = 'canceled'
         WHERE id = %s AND user_id = %s AND status = ANY(%s)
        RETURNING status
        """,
        (run_id, tx.user.id, list(ACTIVE)))
    if await cur.fetchone() is not None:
        return True, "canceled"
    cur = await tx.conn.execute("SELECT status FROM public.training_jobs WHERE id = %s AND user_id = %s",
                                (run_id, tx.user.id))
    row = await cur.fetchone()
    return False, row["status"] if row else None


async def changed_runs(tx: UserScope, *, since: datetime,
                       skip: Sequence[tuple[UUID, datetime]]) -> list[dict[str, Any]]:
    """The caller's runs updated after `since`, less the versions (id, updated_at) in
    `skip`, for a live stream (events/endpoints.py)."""
    cur = await tx.conn.execute(
        """
        SELECT t.id, t.name, t.status, t.progress::float AS progress, t.current_step, t.total_steps,
               t.checkpoint_step, t.loss_history, t.samples, t.error, t.started_at, t.updated_at,
               m.id AS trained_model_id
          FROM public.training_jobs t
          LEFT JOIN public.trained_models m ON m.training_job_id = t.id
         WHERE t.user_id = %s AND t.updated_at > %s
           AND (t.id, t.updated_at) NOT IN (
               SELECT s.id, s.at FROM ROWS FROM (pg_catalog.unnest(%s::uuid[]),
                                                 pg_catalog.unnest(%s::timestamptz[])) AS s (id, at))
         ORDER BY t.updated_at, t.id LIMIT 20
        """,
        (tx.user.id, since, [s[0] for s in skip], [s[1] for s in skip]))
    return await cur.fetchall()


async def get_model(tx: UserScope, *, model_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_MODEL + " WHERE m.id = %s AND m.user_id = %s", (model_id, tx.user.id))
    return await cur.fetchone()


async def list_models(tx: UserScope, *, after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    cur = await tx.conn.execute(
        _MODEL + """
         WHERE m.user_id = %(user)s
           AND (%(after_ts)s::timestamptz IS NULL OR (m.created_at, m.id) < (%(after_ts)s, %(after_id)s::uuid))
         ORDER BY m.created_at DESC, m.id DESC LIMIT %(limit)s
        """,
        {"user": tx.user.id, "after_ts": after[0] if after else None, "after_id": after[1] if after else None,
         "limit": limit + 1})
    return await cur.fetchall()


async def rename_model(tx: UserScope, *, model_id: UUID, name: str) -> bool:
    cur = await tx.conn.execute(
        "UPDATE public.trained_models SET name = %s WHERE id = %s AND user_id = %s RETURNING id",
        (name, model_id, tx.user.id))
    return await cur.fetchone() is not None


async def delete_model(tx: UserScope, *, model_id: UUID) -> tuple[bool, UUID | None]:
    """(whether it existed, its weights' media row for the caller to delete)."""
    cur = await tx.conn.execute(
        "DELETE FROM public.trained_models WHERE id = %s AND user_id = %s RETURNING weights_media_id",
        (model_id, tx.user.id))
    row = await cur.fetchone()
    return (row is not None, row["weights_media_id"] if row else None)


# --- the worker's side ------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSpec:
    run_id: UUID
    user_id: UUID
    name: str
    dataset_id: UUID | None
    base_provider: str | None
    base_model: str | None
    total_steps: int
    hyperparams: dict[str, Any]
    checkpoint_step: int
    checkpoint_key: str | None
    loss_history: list[float]
    # The base model as the providers registry takes it (provider, type, connection_id),
    # with its config: a hosted trainer is named there.
    base: dict[str, Any] = field(default_factory=dict)
    provider_job_id: str | None = None  # a hosted run's training at its provider, once created


async def start(tx: WorkerScope, *, run_id: UUID, user_id: UUID) -> RunSpec | None:
    """Training, from its checkpoint; None when it was cancelled, or is not that user's
    (a job's payload is the user's to write: the run must be theirs too)."""
    cur = await tx.conn.execute(
        """
        WITH started AS (
            UPDATE public.training_jobs
               SET status = 'training', started_at = COALESCE(started_at, pg_catalog.now()),
                   current_step = checkpoint_step,
                   loss_history = COALESCE((SELECT pg_catalog.jsonb_agg(x.value ORDER BY x.n)
                                              FROM pg_catalog.jsonb_array_elements(loss_history)
                                                   WITH ORDINALITY AS x (value, n)
                                             WHERE x.n <= checkpoint_step), '[]'::jsonb),
                   progress = round(100.0 * checkpoint_step / total_steps, 2)
             WHERE id = %s AND user_id = %s AND status = ANY(%s)
            RETURNING *
        )
        SELECT s.id, s.user_id, COALESCE(s.name, 'LoRA') AS name, s.dataset_id, s.total_steps, s.hyperparams,
               s.checkpoint_step, s.checkpoint_key, s.loss_history, s.provider_job_id,
               r.provider, r.provider_model, r.type, r.connection_id, r.config
          FROM started s LEFT JOIN public.model_registry r ON r.id = s.base_model_id
        """,
        (run_id, user_id, list(ACTIVE)))
    row = await cur.fetchone()
    if row is None:
        return None
    return RunSpec(row["id"], row["user_id"], row["name"], row["dataset_id"], row["provider"],
                   row["provider_model"], row["total_steps"], row["hyperparams"] or {}, row["checkpoint_step"],
                   row["checkpoint_key"], [float(x) for x in row["loss_history"]],
                   {"provider": row["provider"], "type": row["type"], "connection_id": row["connection_id"],
                    "config": row["config"] or {}},
                   row["provider_job_id"])


async def record_provider_job(tx: WorkerScope, *, run_id: UUID, provider_job_id: str) -> bool:
    """A hosted run's training exists at its provider: a worker that takes the run over
    follows that one instead of starting another. False once the run is no longer training."""
    cur = await tx.conn.execute(
        "UPDATE public.training_jobs SET provider_job_id = %s WHERE id = %s AND status = 'training' RETURNING id",
        (provider_job_id, run_id))
    return await cur.fetchone() is not None


async def record_steps(tx: WorkerScope, *, run_id: UUID, step: int, losses: Sequence[float]) -> bool:
    """Appends the losses of the steps since the last report; False once the run is no
    longer training (cancelled)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.training_jobs
           SET current_step = %(step)s, loss_history = loss_history || %(losses)s::jsonb,
               progress = round(100.0 * %(step)s / total_steps, 2)
         WHERE id = %(id)s AND status = 'training'
        RETURNING id
        """,
        {"id": run_id, "step": step, "losses": Jsonb(list(losses))})
    return await cur.fetchone() is not None


async def add_sample(tx: WorkerScope, *, run_id: UUID, step: int, media_id: UUID) -> None:
    """A sample image of `step` (replacing one of the same step: a resumed run makes it again)."""
    await tx.conn.execute(
        """
        UPDATE public.training_jobs
           SET samples = COALESCE((SELECT pg_catalog.jsonb_agg(x.value)
                                     FROM pg_catalog.jsonb_array_elements(samples) AS x (value)
                                    WHERE (x.value->>'step')::integer <> %(step)s), '[]'::jsonb)
                         || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                                'step', %(step)s, 'media_id', %(media)s::text,
                                'url', '/v1/media/' || %(media)s::text))
         WHERE id = %(id)s AND status = 'training'
        """,
        {"id": run_id, "step": step, "media": media_id})


async def record_checkpoint(tx: WorkerScope, *, run_id: UUID, step: int, key: str) -> str | None:
    """The run resumes from `key` now; returns the key of the checkpoint it replaces."""
    cur = await tx.conn.execute(
        """
        UPDATE public.training_jobs t SET checkpoint_step = %s, checkpoint_key = %s
          FROM (SELECT checkpoint_key FROM public.training_jobs WHERE id = %s) AS before
         WHERE t.id = %s AND t.status = 'training'
        RETURNING before.checkpoint_key AS replaced
        """,
        (step, key, run_id, run_id))
    row = await cur.fetchone()
    return row["replaced"] if row else None


async def succeed(tx: WorkerScope, *, run_id: UUID, user_id: UUID, name: str, weights_media_id: UUID,
                  metrics: dict[str, Any], provider_weights: str | None = None) -> UUID | None:
    """The run succeeded and its trained model exists; None when it was cancelled meanwhile."""
    cur = await tx.conn.execute(
        """
        UPDATE public.training_jobs
           SET status = 'succeeded', progress = 100, current_step = total_steps, error = NULL,
               finished_at = pg_catalog.now()
         WHERE id = %s AND status = 'training'
        RETURNING id
        """,
        (run_id,))
    if await cur.fetchone() is None:
        return None
    cur = await tx.conn.execute(
        """
        INSERT INTO public.trained_models (user_id, training_job_id, weights_media_id, name, metrics,
                                           provider_weights)
        VALUES (%s, %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (user_id, run_id, weights_media_id, name, Jsonb(metrics), provider_weights))
    row = await cur.fetchone()
    assert row is not None
    model_id: UUID = row["id"]
    return model_id


async def fail(tx: WorkerScope, *, run_ids: Sequence[UUID], status: str, error: str | None) -> None:
    """Their jobs failed: queued again (a retry resumes from the checkpoint), or failed
    for good with `error`."""
    await tx.conn.execute(
        """
        UPDATE public.training_jobs
           SET status = %(status)s,
               error = CASE WHEN %(status)s = 'failed' THEN %(error)s END,
               finished_at = CASE WHEN %(status)s = 'failed' THEN pg_catalog.now() END
         WHERE id = ANY(%(ids)s) AND status = ANY(%(active)s)
        """,
        {"status": status, "error": (error or "")[:2000], "ids": list(run_ids), "active": list(ACTIVE)})


async def cancelled(tx: WorkerScope, *, run_ids: Sequence[UUID]) -> set[UUID]:
    cur = await tx.conn.execute(
        "SELECT id FROM public.training_jobs WHERE id = ANY(%s) AND status = 'canceled'", (list(run_ids),))
    return {row["id"] for row in await cur.fetchall()}


async def checkpoint_key(tx: WorkerScope, *, run_id: UUID) -> str | None:
    cur = await tx.conn.execute("SELECT checkpoint_key FROM public.training_jobs WHERE id = %s", (run_id,))
    row = await cur.fetchone()
    return row["checkpoint_key"] if row else None
