"""Gateway reads: a model by the name OpenAI clients send (its slug), in the caller's
scope (RLS: enabled models, or every model for an admin)."""

from __future__ import annotations

from typing import Any

from studio.db.scopes import UserScope


async def model_by_slug(tx: UserScope, *, slug: str) -> dict[str, Any] | None:
    cur = await tx.conn.execute(
        "SELECT id, slug, type, provider, provider_model, connection_id, default_params, config, enabled,"
        "       capabilities, created_at"
        "  FROM public.model_registry WHERE slug = %s",
        (slug,))
    return await cur.fetchone()
