"""Sharing's rules (F11, F17): a link is an unguessable slug (192 random bits) for one
generation or conversation of the owner's; a visitor holding it sees that item and its
media as anon, with the slug as their only claim, and nothing else of the owner's."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

from studio.auth.identity import Credential, RequestContext
from studio.db.scopes import ApiDatabase
from studio.http.errors import not_found
from studio.sharing import repository as repo


async def create_share(db: ApiDatabase, ctx: RequestContext, cred: Credential, *, generation_id: UUID | None,
                       conversation_id: UUID | None, expires_at: datetime | None) -> dict[str, Any]:
    """A new link to a generation or a conversation of the caller's; 404 when the target
    is not theirs."""
    slug = secrets.token_urlsafe(24)  # 192 random bits
    async with db.as_user(cred, ctx) as tx:
        share = await repo.create_share(tx, slug=slug, generation_id=generation_id,
                                        conversation_id=conversation_id, expires_at=expires_at)
    if share is None:
        raise not_found("generation" if generation_id else "conversation")
    return share


async def view(db: ApiDatabase, ctx: RequestContext, slug: str) -> dict[str, Any]:
    """What a link shows: the generation with its media (each with its URL under the
    link), or the conversation with its messages; 404 for an unknown, expired or
    revoked link."""
    if not _plausible(slug):
        raise not_found("share")
    async with db.as_anon(ctx) as tx:
        share = await repo.present_slug(tx, slug=slug)
        if share is None:
            raise not_found("share")
        if share["generation_id"]:
            generation, media = await repo.shared_generation(tx, generation_id=share["generation_id"])
            item: dict[str, Any] = {"kind": "generation", "generation": generation,
                                    "media": [m | {"url": f"/s/{slug}/media/{m['id']}"} for m in media]}
        else:
            conversation, messages = await repo.shared_conversation(tx, conversation_id=share["conversation_id"])
            item = {"kind": "conversation", "conversation": conversation, "messages": messages}
    item["share"] = {"slug": slug, "expires_at": share["expires_at"], "created_at": share["created_at"]}
    return item


async def shared_media(db: ApiDatabase, ctx: RequestContext, slug: str, media_id: UUID) -> dict[str, Any]:
    """A file of a shared generation, through its link; 404 otherwise."""
    if not _plausible(slug):
        raise not_found("media")
    async with db.as_anon(ctx) as tx:
        share = await repo.present_slug(tx, slug=slug)
        media = await repo.shared_media(tx, media_id=media_id) if share else None
    if media is None:
        raise not_found("media")
    return media


def _plausible(slug: str) -> bool:
    return 22 <= len(slug) <= 64 and all(c.isalnum() or c in "-_" for c in slug)
