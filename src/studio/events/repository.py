"""Generation events SQL, in the user's scope: RLS decides what the caller sees. And
the statements of the listener's own connection (listener.py: autocommit, outside the
pool), which reads no data: it only waits for notifications."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from studio.db.scopes import UserScope


async def generation_visible(tx: UserScope, *, generation_id: UUID) -> bool:
    """The caller's own generation. Owner explicitly, on top of RLS: a policy that one
    day shows others' generations (sharing) must not open their event streams."""
    cur = await tx.conn.execute("SELECT 1 FROM public.generations WHERE id = %s AND user_id = %s",
                                (generation_id, tx.user.id))
    return await cur.fetchone() is not None


async def latest_event_id(tx: UserScope) -> int:
    """The newest of the caller's events now: where a stream "from now" starts."""
    cur = await tx.conn.execute(
        "SELECT COALESCE(max(id), 0) AS id FROM public.generation_events WHERE user_id = %s", (tx.user.id,))
    row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


async def generation_events(tx: UserScope, *, generation_id: UUID, after: int,
                            limit: int) -> tuple[str | None, list[dict[str, Any]]]:
    """(the generation's current status, its events after `after` in id order), or
    (None, []) when the generation is gone or not the caller's. Both come from one
    snapshot: if the status is terminal, the terminal event is among the visible ones."""
    cur = await tx.conn.execute(
        """
        SELECT g.status AS generation_status,
               e.id, e.generation_id, e.status, e.progress, e.error, e.created_at
          FROM public.generations g
          LEFT JOIN LATERAL (
                SELECT ge.id, ge.generation_id, ge.status, ge.progress, ge.error, ge.created_at
                  FROM public.generation_events ge
                 WHERE ge.generation_id = g.id AND ge.id > %(after)s
                 ORDER BY ge.id
                 LIMIT %(limit)s) e ON true
         WHERE g.id = %(id)s AND g.user_id = %(user)s
         ORDER BY e.id
        """,
        {"id": generation_id, "user": tx.user.id, "after": after, "limit": limit})
    rows = await cur.fetchall()
    if not rows:
        return None, []
    status = rows[0]["generation_status"]
    events = [{k: v for k, v in row.items() if k != "generation_status"} for row in rows if row["id"] is not None]
    return status, events


async def user_events(tx: UserScope, *, after: int, skip: Collection[int], limit: int) -> list[dict[str, Any]]:
    """The caller's events after `after` in id order, leaving out the ids in `skip`
    (already sent: see endpoints._UserCursor)."""
    cur = await tx.conn.execute(
        """
        SELECT id, generation_id, status, progress, error, created_at
          FROM public.generation_events
         WHERE user_id = %(user)s AND id > %(after)s AND id <> ALL(%(skip)s::bigint[])
         ORDER BY id
         LIMIT %(limit)s
        """,
        {"user": tx.user.id, "after": after, "skip": list(skip), "limit": limit})
    return await cur.fetchall()

