"""Generations SQL: requests in the user's scope (RLS decides what the caller sees),
the run in the worker's (its policies let a worker change only unfinished work)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb

from studio.db.scopes import UserStatement, UserScope, WorkerScope, run_statement


async def visible_model(tx: UserScope, *, model_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(
        "SELECT id, type, provider, provider_model, connection_id, enabled, capabilities, config"
        " FROM public.model_registry WHERE id = %s",
        (model_id,))
    return await cur.fetchone()


async def trained_model(tx: UserScope, *, model_id: UUID) -> dict[str, Any] | None:
    """A trained model of the caller's (RLS: their own) with its base model and weights."""
    cur = await tx.conn.execute(
        """
        SELECT m.id, m.name, m.weights_media_id, m.provider_weights, t.base_model_id
          FROM public.trained_models m JOIN public.training_jobs t ON t.id = m.training_job_id
         WHERE m.id = %s AND m.user_id = %s AND m.weights_media_id IS NOT NULL
        """,
        (model_id, tx.user.id))
    return await cur.fetchone()


async def trained_models(tx: UserScope) -> list[dict[str, Any]]:
    """The caller's trained models that can be used: weights stored, base model still there
    and enabled."""
    cur = await tx.conn.execute(
        """
        SELECT m.id, m.name, m.provider_weights, t.base_model_id, r.type, r.provider, r.capabilities,
               r.connection_id,
               r.display_name AS base_name
          FROM public.trained_models m
          JOIN public.training_jobs t ON t.id = m.training_job_id
          JOIN public.model_registry r ON r.id = t.base_model_id
         WHERE m.user_id = %s AND m.weights_media_id IS NOT NULL AND r.enabled
         ORDER BY m.created_at DESC, m.id DESC
        """,
        (tx.user.id,))
    return await cur.fetchall()


async def list_models(tx: UserScope) -> list[dict[str, Any]]:
    cur = await tx.conn.execute(
        "SELECT id, slug, display_name, type, provider, description, capabilities, connection_id, config"
        " FROM public.model_registry"
        " WHERE enabled ORDER BY type, slug")
    return await cur.fetchall()


@dataclass(frozen=True)
class QuotaState:
    jobs_today: int
    jobs_per_day: int
    spent_cents: int        # this month: succeeded plus reserved by queued/running generations
    cost_cap_cents: int
    price_cents: int        # what the requested model costs per generation


async def quota_state(tx: UserScope, *, model_id: UUID, default_jobs_per_day: int,
                      default_cost_cap_cents: int) -> QuotaState:
    """The user's usage against their quota, under a per-user transaction lock so that
    concurrent requests cannot both take the last free slot (F10)."""
    await tx.conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 7))",
                          (str(tx.user.id),))
    cur = await tx.conn.execute(
        """
        SELECT (SELECT count(*) FROM public.generations
                 WHERE user_id = %(user)s AND created_at >= pg_catalog.date_trunc('day', pg_catalog.now())) AS today,
               COALESCE((SELECT sum(cost_cents) FROM public.generations
                          WHERE user_id = %(user)s AND cost_cents > 0
                            AND status IN ('queued', 'running', 'succeeded')
                            AND created_at >= pg_catalog.date_trunc('month', pg_catalog.now())), 0) AS spent,
               q.jobs_per_day, q.cost_cap_cents,
               (SELECT CASE WHEN pg_catalog.jsonb_typeof(m.config -> 'cost_cents') = 'number'
                            THEN GREATEST(0, (m.config ->> 'cost_cents')::numeric)::integer ELSE 0 END
                  FROM public.model_registry m WHERE m.id = %(model)s) AS price
          FROM (SELECT 1) AS one
          LEFT JOIN public.quotas q ON q.user_id = %(user)s
        """,
        {"user": tx.user.id, "model": model_id})
    row = await cur.fetchone()
    assert row is not None
    return QuotaState(int(row["today"]), row["jobs_per_day"] if row["jobs_per_day"] is not None else default_jobs_per_day,
                      int(row["spent"]),
                      row["cost_cap_cents"] if row["cost_cap_cents"] is not None else default_cost_cap_cents,
                      int(row["price"] or 0))


async def create_generation(tx: UserScope, *, generation_id: UUID, type_: str, model_id: UUID, provider: str,
                            prompt: str, params: dict[str, Any], enqueue: Callable[[], Awaitable[None]],
                            inputs: Sequence[tuple[UUID, str]] = ()) -> dict[str, Any]:
    """The generation, then `enqueue` (its job, which fetches nothing), in one pipeline:
    one round trip. Two statements, since the job's policy must see the new generation,
    which a sibling CTE would not."""
    async with tx.conn.pipeline():
        cur = await tx.conn.execute(
            """
            INSERT INTO public.generations (id, user_id, model_id, type, provider, prompt, params)
            VALUES (%(id)s, %(user)s, %(model)s, %(type)s, %(provider)s, %(prompt)s, %(params)s)
            RETURNING id, type, status, model_id, provider, prompt, params, progress, error, attempts, result,
                      created_at, updated_at, started_at, finished_at
            """,
            {"id": generation_id, "user": tx.user.id, "model": model_id, "type": type_, "provider": provider,
             "prompt": prompt, "params": Jsonb(params)})
        for position, (media_id, role) in enumerate(inputs):
            await tx.conn.execute(
                "INSERT INTO public.generation_inputs (generation_id, user_id, media_object_id, role, position)"
                " VALUES (%s, %s, %s, %s, %s)", (generation_id, tx.user.id, media_id, role, position))
        await enqueue()
        row = await cur.fetchone()
    assert row is not None
    return row


async def get_generation(tx: UserScope, *, generation_id: UUID) -> dict[str, Any] | None:
    """One generation with its input media, in order."""
    cur = await tx.conn.execute(
        """
        SELECT g.id, g.type, g.status, g.model_id, g.provider, g.prompt, g.params, g.progress, g.error, g.attempts,
               g.result, g.created_at, g.updated_at, g.started_at, g.finished_at,
               (SELECT coalesce(jsonb_agg(jsonb_build_object('media_id', i.media_object_id, 'role', i.role)
                                          ORDER BY i.position), '[]'::jsonb)
                  FROM public.generation_inputs i WHERE i.generation_id = g.id) AS inputs
          FROM public.generations g WHERE g.id = %s
        """,
        (generation_id,))
    return await cur.fetchone()


_LIST_COLUMNS = """
SELECT id, type, status, model_id, provider, prompt, params, progress, error, attempts, result,
       NULL::jsonb AS inputs, created_at, updated_at, started_at, finished_at FROM public.generations
"""


def generations_page(*, type_: str | None, status: str | None, after: tuple[datetime, UUID] | None,
                     limit: int) -> UserStatement:
    """The caller's generations, newest first, `limit` + 1 rows. Only the filters given,
    as plain conditions: `(%s IS NULL OR status = %s)` would let a generic plan (psycopg
    prepares a statement at its 5th run) neither choose the status index nor keep the
    ORDER BY's index order, and read all of the user's rows."""
    conditions = ["user_id = auth.uid()"]
    params: dict[str, object] = {"limit": limit + 1}
    if type_ is not None:
        conditions.append("type = %(type)s")
        params["type"] = type_
    if status is not None:
        conditions.append("status = %(status)s")
        params["status"] = status
    if after is not None:
        conditions.append("(created_at, id) < (%(after_ts)s, %(after_id)s)")
        params.update(after_ts=after[0], after_id=after[1])
    return UserStatement(f"{_LIST_COLUMNS} WHERE {' AND '.join(conditions)} "
                    "ORDER BY created_at DESC, id DESC LIMIT %(limit)s", params)


async def list_generations(tx: UserScope, *, type_: str | None, status: str | None,
                           after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    """`generations_page` in a scope that is already open."""
    return await run_statement(tx, generations_page(type_=type_, status=status, after=after, limit=limit))


async def cancel_generation(tx: UserScope, *, generation_id: UUID) -> dict[str, Any] | None:
    """Queued or running -> canceled; a running job notices at its next heartbeat."""
    cur = await tx.conn.execute(
        """
        UPDATE public.generations SET status = 'canceled'
         WHERE id = %s AND status IN ('queued', 'running')
        RETURNING id, type, status, model_id, provider, prompt, params, progress, error, attempts, result,
              created_at, updated_at, started_at, finished_at
        """,
        (generation_id,))
    return await cur.fetchone()


async def delete_generation(tx: UserScope, *, generation_id: UUID) -> bool:
    """Its media rows go by cascade; a trigger queues their files in the storage outbox."""
    cur = await tx.conn.execute("DELETE FROM public.generations WHERE id = %s RETURNING id", (generation_id,))
    return await cur.fetchone() is not None


# --- the run, in the worker's scope -------------------------------------------------------

@dataclass(frozen=True)
class RunSpec:
    """What a provider needs of the generation it runs."""

    type: Literal["image", "audio", "video"]  # the generations_type CHECK constraint
    prompt: str
    params: dict[str, Any]
    provider: str
    provider_model: str | None
    model_config: dict[str, Any]
    connection_id: UUID | None = None  # the connection its model runs on (None: a local provider)


async def start(tx: WorkerScope, *, generation_id: UUID, attempt: int) -> RunSpec | None:
    """Running, at its job's attempt; None when it was cancelled or deleted meanwhile."""
    cur = await tx.conn.execute(
        """
        WITH started AS (
            UPDATE public.generations
               SET status = 'running', started_at = COALESCE(started_at, pg_catalog.now()), attempts = %s
             WHERE id = %s AND status IN ('queued', 'running')
            RETURNING type, prompt, params, provider, model_id
        )
        SELECT s.type, s.prompt, s.params, s.provider, m.provider_model, m.config AS model_config,
               m.connection_id
          FROM started s LEFT JOIN public.model_registry m ON m.id = s.model_id
        """,
        (attempt, generation_id))
    row = await cur.fetchone()
    if row is None:
        return None
    return RunSpec(row["type"], row["prompt"], row["params"] or {}, row["provider"], row["provider_model"],
                   row["model_config"] or {}, row["connection_id"])


async def report_progress(tx: WorkerScope, *, generation_id: UUID, percent: int) -> None:
    await tx.conn.execute(
        "UPDATE public.generations SET progress = %s WHERE id = %s AND status = 'running' AND progress <> %s",
        (percent, generation_id, percent))


async def record_provider_job(tx: WorkerScope, *, generation_id: UUID, provider_job_id: str) -> None:
    await tx.conn.execute(
        "UPDATE public.generations SET provider_job_id = %s WHERE id = %s AND status = 'running'",
        (provider_job_id, generation_id))


async def succeed(tx: WorkerScope, *, generation_id: UUID, result: dict[str, Any]) -> bool:
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


async def fail(tx: WorkerScope, *, generation_id: UUID, status: str, error: str) -> None:
    """Its job failed: queued again for a retry, or failed for good. Also before the
    handler started it (still queued): a job that crashed there must not leave it
    queued for ever."""
    await tx.conn.execute(
        """
        UPDATE public.generations
           SET status = %s, error = %s,
               finished_at = CASE WHEN %s = 'failed' THEN pg_catalog.now() END
         WHERE id = %s AND status IN ('queued', 'running')
        """,
        (status, error[:2000], status, generation_id))


async def requeue(tx: WorkerScope, *, generation_ids: list[UUID]) -> None:
    """Their jobs were given back unfinished: the attempt did not count."""
    await tx.conn.execute(
        """
        UPDATE public.generations SET status = 'queued', attempts = GREATEST(attempts - 1, 0)
         WHERE id = ANY(%s) AND status = 'running'
        """,
        (generation_ids,))


async def rescued(tx: WorkerScope, *, outcomes: Sequence[tuple[UUID, str]], error: str) -> None:
    """(generation id, its job's new status): queued again, or failed with `error`, also
    when its worker died before it started the generation (still queued)."""
    await tx.conn.execute(
        """
        UPDATE public.generations g
           SET status = o.status,
               error = CASE WHEN o.status = 'failed' THEN %s END,
               finished_at = CASE WHEN o.status = 'failed' THEN pg_catalog.now() END
          FROM unnest(%s::uuid[], %s::text[]) AS o(id, status)
         WHERE g.id = o.id AND (g.status = 'running' OR (o.status = 'failed' AND g.status = 'queued'))
        """,
        (error, [o[0] for o in outcomes], [o[1] for o in outcomes]))


async def cancelled(tx: WorkerScope, *, generation_ids: list[UUID]) -> set[UUID]:
    """Which of these the owner cancelled."""
    cur = await tx.conn.execute(
        "SELECT id FROM public.generations WHERE id = ANY(%s) AND status = 'canceled'", (generation_ids,))
    return {row["id"] for row in await cur.fetchall()}


@dataclass(frozen=True)
class InputFile:
    role: str
    bucket: Literal["media", "attachments"]
    key: str
    content_type: str


async def run_inputs(tx: WorkerScope, *, generation_id: UUID) -> list[InputFile]:
    """The input files of a generation a worker runs, in order."""
    cur = await tx.conn.execute(
        """
        SELECT i.role, o.bucket, o.key, o.content_type
          FROM public.generation_inputs i JOIN public.media_objects o ON o.id = i.media_object_id
         WHERE i.generation_id = %s
         ORDER BY i.position
        """, (generation_id,))
    return [InputFile(r["role"], r["bucket"], r["key"], r["content_type"]) for r in await cur.fetchall()]
