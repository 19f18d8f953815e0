"""api_usage SQL: appended by workers, read by their subject (RLS)."""

from __future__ import annotations

from uuid import UUID

from studio.db.scopes import WorkerScope


async def record_usage(tx: WorkerScope, *, user_id: UUID, generation_id: UUID, kind: str, provider: str,
                       model: str | None, units: float, cost_cents: int) -> None:
    await tx.conn.execute(
        """
        INSERT INTO public.api_usage (user_id, generation_id, kind, provider, model, units, cost_cents)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        (user_id, generation_id, kind, provider, model, units, cost_cents))
