"""Transcription reads: models in the caller's scope (RLS: enabled models, or every model
for an admin), by id, by slug, or every one that transcribes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from studio.db.scopes import UserScope

_SELECT = ("SELECT id, slug, type, provider, provider_model, connection_id, enabled, capabilities, default_params"
           "  FROM public.model_registry")


async def model_by_id(tx: UserScope, *, model_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_SELECT + " WHERE id = %s", (model_id,))
    return await cur.fetchone()


async def model_by_slug(tx: UserScope, *, slug: str) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_SELECT + " WHERE slug = %s", (slug,))
    return await cur.fetchone()


async def transcription_models(tx: UserScope) -> list[dict[str, Any]]:
    """The enabled models with the transcription capability, the oldest first: the
    default is the one an admin set up first, not whichever sorts first by name."""
    cur = await tx.conn.execute(
        _SELECT + " WHERE enabled AND 'transcription' = ANY (capabilities) ORDER BY created_at, slug")
    return await cur.fetchall()
