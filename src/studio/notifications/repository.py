"""`public.user_notifications` and `public.notification_preferences`, and nothing else:
the user's reads, marks and preferences in their own scope (RLS: only their rows), the
worker's inserts in its scope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from studio.db.scopes import UserScope, WorkerScope

_COLUMNS = "id, kind, title, body, data, read_at, created_at"


async def list_notifications(tx: UserScope, *, unread_only: bool, after: tuple[datetime, UUID] | None,
                             limit: int) -> list[dict[str, Any]]:
    """Newest first, limit + 1 rows (the extra one says a next page exists)."""
    conditions = [sql.SQL("user_id = %(user)s")]
    if unread_only:
        conditions.append(sql.SQL("read_at IS NULL"))
    if after is not None:
        conditions.append(sql.SQL("(created_at, id) < (%(after_ts)s, %(after_id)s)"))
    query = sql.SQL("SELECT " + _COLUMNS + " FROM public.user_notifications WHERE {conditions}"
                    " ORDER BY created_at DESC, id DESC LIMIT %(limit)s").format(
        conditions=sql.SQL(" AND ").join(conditions))
    cur = await tx.conn.execute(query, {"user": tx.user.id, "after_ts": after[0] if after else None,
                                        "after_id": after[1] if after else None, "limit": limit + 1})
    return await cur.fetchall()


async def unread_count(tx: UserScope) -> int:
    cur = await tx.conn.execute(
        "SELECT count(*) AS n FROM public.user_notifications WHERE user_id = %s AND read_at IS NULL", (tx.user.id,))
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def arrived(tx: UserScope, *, since: datetime, skip: Sequence[UUID]) -> tuple[datetime, list[dict[str, Any]]]:
    """(the server's clock, the caller's notifications created after `since` and not in
    `skip`, oldest first), in one statement, for a live stream (events/endpoints.py)."""
    cur = await tx.conn.execute(
        """
        SELECT pg_catalog.now() AS server_now, n.*
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (
                SELECT """ + _COLUMNS + """ FROM public.user_notifications
                 WHERE user_id = %s AND created_at > %s AND id <> ALL(%s::uuid[])
                 ORDER BY created_at, id LIMIT 100) AS n ON true
        """,
        (tx.user.id, since, list(skip)))
    rows = await cur.fetchall()
    now = rows[0]["server_now"]
    return now, [{k: v for k, v in row.items() if k != "server_now"} for row in rows if row["id"] is not None]


async def server_now(tx: UserScope) -> datetime:
    cur = await tx.conn.execute("SELECT pg_catalog.now() AS now")
    row = await cur.fetchone()
    assert row is not None
    now: datetime = row["now"]
    return now


async def mark_read(tx: UserScope, *, notification_id: UUID) -> bool:
    """False when there is no such notification of the caller's (already read is fine)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.user_notifications SET read_at = COALESCE(read_at, pg_catalog.now())
         WHERE id = %s AND user_id = %s
        RETURNING id
        """,
        (notification_id, tx.user.id))
    return await cur.fetchone() is not None


async def mark_all_read(tx: UserScope) -> int:
    cur = await tx.conn.execute(
        "UPDATE public.user_notifications SET read_at = pg_catalog.now() WHERE user_id = %s AND read_at IS NULL",
        (tx.user.id,))
    return cur.rowcount


async def delete(tx: UserScope, *, notification_id: UUID) -> bool:
    cur = await tx.conn.execute(
        "DELETE FROM public.user_notifications WHERE id = %s AND user_id = %s RETURNING id",
        (notification_id, tx.user.id))
    return await cur.fetchone() is not None


async def muted_kinds(tx: UserScope) -> list[str]:
    cur = await tx.conn.execute("SELECT muted FROM public.notification_preferences WHERE user_id = %s",
                                (tx.user.id,))
    row = await cur.fetchone()
    return sorted(row["muted"]) if row else []


async def set_muted_kinds(tx: UserScope, *, muted: Sequence[str]) -> list[str]:
    cur = await tx.conn.execute(
        """
        INSERT INTO public.notification_preferences (user_id, muted) VALUES (%(user)s, %(muted)s)
        ON CONFLICT (user_id) DO UPDATE SET muted = excluded.muted
        RETURNING muted
        """,
        {"user": tx.user.id, "muted": sorted(set(muted))})
    row = await cur.fetchone()
    assert row is not None
    return list(row["muted"])


# --- workers ---------------------------------------------------------------------------


async def generations_ended(tx: WorkerScope, *, generation_ids: Sequence[UUID]) -> None:
    """One notification per generation that reached succeeded or failed, written from
    its row as committed in this transaction: the title says what and how it ended, the
    body starts with its prompt. Generations in any other state are left out, and so are
    the users who muted generation notifications."""
    await tx.conn.execute(
        """
        INSERT INTO public.user_notifications (user_id, kind, title, body, data)
        SELECT g.user_id, 'generation',
               initcap(g.type) || CASE g.status WHEN 'succeeded' THEN ' ready' ELSE ' failed' END,
               left(CASE WHEN g.status = 'failed' AND g.error IS NOT NULL
                         THEN g.error || ' - ' || COALESCE(g.prompt, '') ELSE COALESCE(g.prompt, '') END, 300),
               jsonb_build_object('generation_id', g.id, 'status', g.status)
          FROM public.generations g
         WHERE g.id = ANY(%s) AND g.status IN ('succeeded', 'failed')
           AND NOT EXISTS (SELECT 1 FROM public.notification_preferences p
                            WHERE p.user_id = g.user_id AND 'generation' = ANY(p.muted))
        """,
        (list(generation_ids),))


async def trainings_ended(tx: WorkerScope, *, run_ids: Sequence[UUID]) -> None:
    """One notification per training run that succeeded or failed for good, from its row
    as committed in this transaction; not for users who muted training notifications."""
    await tx.conn.execute(
        """
        INSERT INTO public.user_notifications (user_id, kind, title, body, data)
        SELECT t.user_id, 'training',
               CASE t.status WHEN 'succeeded' THEN 'Training finished' ELSE 'Training failed' END,
               left(COALESCE(t.name, 'LoRA') || CASE WHEN t.status = 'failed' AND t.error IS NOT NULL
                                                      THEN ': ' || t.error ELSE '' END, 300),
               jsonb_build_object('training_job_id', t.id, 'status', t.status)
          FROM public.training_jobs t
         WHERE t.id = ANY(%s) AND t.status IN ('succeeded', 'failed')
           AND NOT EXISTS (SELECT 1 FROM public.notification_preferences p
                            WHERE p.user_id = t.user_id AND 'training' = ANY(p.muted))
        """,
        (list(run_ids),))


async def shares_expiring(tx: WorkerScope, *, shares: Sequence[dict[str, Any]]) -> None:
    """One notification per share link about to expire (sharing's mark_expiring), for
    owners who did not mute share notifications."""
    if not shares:
        return
    await tx.conn.execute(
        """
        INSERT INTO public.user_notifications (user_id, kind, title, body, data)
        SELECT s.user_id, 'share', 'A shared link expires soon',
               'The link /s/' || s.slug || ' stops working at ' || to_char(s.expires_at AT TIME ZONE 'UTC',
                                                                       'YYYY-MM-DD HH24:MI') || ' UTC.',
               jsonb_build_object('share_id', s.id, 'slug', s.slug, 'expires_at', s.expires_at,
                                  'generation_id', s.generation_id, 'conversation_id', s.conversation_id)
          FROM pg_catalog.jsonb_to_recordset(%s::jsonb) AS s (id uuid, user_id uuid, slug text, expires_at timestamptz,
                                                             generation_id uuid, conversation_id uuid)
         WHERE NOT EXISTS (SELECT 1 FROM public.notification_preferences p
                            WHERE p.user_id = s.user_id AND 'share' = ANY(p.muted))
        """,
        (Jsonb([{k: (str(v) if v is not None else None) for k, v in share.items()} for share in shares]),))
