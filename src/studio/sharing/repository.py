"""Shares: the owner manages links (UserScope); visitors resolve them as anon with the
slug as their only claim, and RLS shows them exactly what that share covers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from studio.db.scopes import AnonScope, UserScope, WorkerScope


async def create_share(tx: UserScope, *, slug: str, generation_id: UUID | None, conversation_id: UUID | None,
                       expires_at: datetime | None) -> dict[str, Any] | None:
    """None when the target is not the caller's (the insert policy refuses it)."""
    cur = await tx.conn.execute(
        """
        INSERT INTO public.shared_content (user_id, slug, generation_id, conversation_id, expires_at)
        SELECT %(user)s, %(slug)s, %(generation)s, %(conversation)s, %(expires)s
         WHERE EXISTS (SELECT 1 FROM public.generations g WHERE g.id = %(generation)s)
            OR EXISTS (SELECT 1 FROM public.conversations c WHERE c.id = %(conversation)s)
        RETURNING id, slug, generation_id, conversation_id, expires_at, revoked_at, created_at
        """,
        {"user": tx.user.id, "slug": slug, "generation": generation_id, "conversation": conversation_id,
         "expires": expires_at})
    return await cur.fetchone()


async def list_shares(tx: UserScope, *, generation_id: UUID | None, conversation_id: UUID | None,
                      after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    """The caller's live links, newest first; only those of one generation or conversation
    when asked. Only the filters given become conditions, so each query keeps an index."""
    conditions = [sql.SQL("user_id = %(user)s"), sql.SQL("revoked_at IS NULL")]
    if generation_id is not None:
        conditions.append(sql.SQL("generation_id = %(generation)s"))
    if conversation_id is not None:
        conditions.append(sql.SQL("conversation_id = %(conversation)s"))
    if after is not None:
        conditions.append(sql.SQL("(created_at, id) < (%(after_ts)s, %(after_id)s)"))
    query = sql.SQL(
        "SELECT id, slug, generation_id, conversation_id, expires_at, revoked_at, created_at"
        " FROM public.shared_content WHERE {conditions} ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
    ).format(conditions=sql.SQL(" AND ").join(conditions))
    cur = await tx.conn.execute(
        query, {"user": tx.user.id, "generation": generation_id, "conversation": conversation_id,
                "after_ts": after[0] if after else None, "after_id": after[1] if after else None,
                "limit": limit + 1})
    return await cur.fetchall()


async def revoke_share(tx: UserScope, *, share_id: UUID) -> bool:
    cur = await tx.conn.execute(
        "UPDATE public.shared_content SET revoked_at = pg_catalog.now() WHERE id = %s AND revoked_at IS NULL"
        " RETURNING id", (share_id,))
    return await cur.fetchone() is not None


# --- visitors (anon + the slug) -----------------------------------------------------------

async def present_slug(tx: AnonScope, *, slug: str) -> dict[str, Any] | None:
    """Sets the slug claim for the rest of the transaction; the share if it is valid."""
    await tx.conn.execute("SELECT pg_catalog.set_config('studio.share_slug', %s, true)", (slug,))
    cur = await tx.conn.execute(
        "SELECT id, slug, generation_id, conversation_id, expires_at, created_at FROM public.shared_content"
        " WHERE slug = %s", (slug,))
    return await cur.fetchone()


async def shared_generation(tx: AnonScope, *, generation_id: UUID) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    generation = await tx.conn.execute(
        "SELECT id, type, status, prompt, created_at, finished_at FROM public.generations WHERE id = %s",
        (generation_id,))
    media = await tx.conn.execute(
        "SELECT id, size_bytes, content_type FROM public.media_objects WHERE generation_id = %s ORDER BY key",
        (generation_id,))
    return await generation.fetchone(), await media.fetchall()


async def shared_conversation(tx: AnonScope, *, conversation_id: UUID) -> tuple[dict[str, Any] | None,
                                                                                list[dict[str, Any]]]:
    conversation = await tx.conn.execute(
        "SELECT id, title, created_at FROM public.conversations WHERE id = %s", (conversation_id,))
    messages = await tx.conn.execute(
        "SELECT id, parent_id, role, content, model, created_at FROM public.messages"
        " WHERE conversation_id = %s ORDER BY created_at, id", (conversation_id,))
    return await conversation.fetchone(), await messages.fetchall()


async def shared_media(tx: AnonScope, *, media_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(
        "SELECT id, bucket, key, size_bytes, content_type, checksum_sha256 FROM public.media_objects WHERE id = %s",
        (media_id,))
    return await cur.fetchone()


async def mark_expiring(tx: WorkerScope, *, within_hours: float) -> list[dict[str, Any]]:
    """The live links that expire within `within_hours` and whose owner was not told yet,
    marked as told (once: a link is only ever returned by one call)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.shared_content
           SET expiry_notified_at = pg_catalog.now()
         WHERE revoked_at IS NULL AND expiry_notified_at IS NULL AND expires_at > pg_catalog.now()
           AND expires_at <= pg_catalog.now() + pg_catalog.make_interval(secs => %s)
        RETURNING id, user_id, slug, generation_id, conversation_id, expires_at
        """,
        (within_hours * 3600,))
    return await cur.fetchall()
