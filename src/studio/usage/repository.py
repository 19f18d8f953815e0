"""api_usage SQL: appended by workers (generations) and by the user's own API
transaction (chat answers), read by their subject (RLS)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from studio.db.scopes import UserScope, WorkerScope


async def record_usage(tx: WorkerScope, *, user_id: UUID, generation_id: UUID, kind: str, provider: str,
                       model: str | None, units: float, cost_cents: int) -> None:
    await tx.conn.execute(
        """
        INSERT INTO public.api_usage (user_id, generation_id, kind, provider, model, units, cost_cents)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        (user_id, generation_id, kind, provider, model, units, cost_cents))


async def record_chat_usage(tx: UserScope, *, message_id: UUID | None, provider: str, model: str | None,
                            input_tokens: int | None, output_tokens: int | None, cost_cents: int) -> None:
    """The usage of one stored answer, in the transaction that stores it. `units`: the
    tokens in and out, as the vendor counted them (0 when it did not say)."""
    await tx.conn.execute(
        """
        INSERT INTO public.api_usage (user_id, message_id, kind, provider, model, units, cost_cents,
                                      input_tokens, output_tokens)
        VALUES (%s, %s, 'chat', %s, %s, %s, %s, %s, %s)
        """,
        (tx.user.id, message_id, provider, model, (input_tokens or 0) + (output_tokens or 0), cost_cents,
         input_tokens, output_tokens))


async def usage_by_day(tx: UserScope, *, since: date, until: date) -> list[dict[str, Any]]:
    """The caller's usage per UTC day, kind and model, oldest day first."""
    cur = await tx.conn.execute(
        """
        SELECT (u.created_at AT TIME ZONE 'UTC')::date AS day, u.kind, u.provider, u.model,
               count(*) AS requests, COALESCE(sum(u.input_tokens), 0) AS input_tokens,
               COALESCE(sum(u.output_tokens), 0) AS output_tokens, sum(u.units)::float8 AS units,
               sum(u.cost_cents) AS cost_cents
          FROM public.api_usage u
         WHERE u.user_id = %(user)s
           AND u.created_at >= (%(since)s::date)::timestamp AT TIME ZONE 'UTC'
           AND u.created_at < ((%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC')
         GROUP BY 1, 2, 3, 4
         ORDER BY 1, 2, 4 NULLS FIRST
        """, {"user": tx.user.id, "since": since, "until": until})
    return await cur.fetchall()
