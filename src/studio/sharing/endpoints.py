"""Sharing by unguessable link: the owner creates and revokes links; anyone holding one
sees that item (HTML page or JSON) and its media, nothing else of the owner's (F11, F17)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import nh3
from fastapi import APIRouter, Query, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import HTMLResponse, Response

from studio.http.deps import Cred, Ctx, Db
from studio.http.errors import not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.media.endpoints import stream_media
from studio.sharing import repository as repo

router = APIRouter(tags=["sharing"])

Limit = Annotated[int, Query(ge=1, le=100)]

# Rich text a model may produce, and nothing else: no scripts, styles, event handlers,
# iframes or images from elsewhere. nh3 (Ammonia) parses and rebuilds the HTML.
ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2",
                "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_templates = Environment(loader=FileSystemLoader(Path(__file__).parents[1] / "web" / "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))


def rich_text(content: str) -> Markup:
    """Sanitized HTML of a message: tags outside the allow-list are removed, text is
    escaped, links get rel=noopener noreferrer."""
    cleaned = nh3.clean(content, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")
    return Markup(cleaned.replace("\n", "<br>\n"))  # noqa: S704 - nh3 output is safe HTML


_templates.filters["rich_text"] = rich_text


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    generation_id: UUID | None = None
    conversation_id: UUID | None = None
    expires_at: datetime | None = Field(None, description="omit for a link that lasts until revoked")

    @model_validator(mode="after")
    def _one_target(self) -> ShareCreate:
        if (self.generation_id is None) == (self.conversation_id is None):
            raise ValueError("give exactly one of generation_id and conversation_id")
        if self.expires_at is not None:
            if self.expires_at.tzinfo is None:
                raise ValueError("expires_at needs a timezone, e.g. 2030-01-01T00:00:00Z")
            if self.expires_at <= datetime.now(UTC):
                raise ValueError("expires_at is in the past")
        return self


def _public(share: dict[str, Any]) -> dict[str, Any]:
    return share | {"url": f"/s/{share['slug']}"}


@router.post("/v1/shares", status_code=201)
async def create_share(body: ShareCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    slug = secrets.token_urlsafe(24)  # 192 random bits
    async with db.as_user(cred, ctx) as tx:
        share = await repo.create_share(tx, slug=slug, generation_id=body.generation_id,
                                        conversation_id=body.conversation_id, expires_at=body.expires_at)
    if share is None:
        raise not_found("generation" if body.generation_id else "conversation")
    return json_response(_public(share), 201)


@router.get("/v1/shares")
async def list_shares(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 50, cursor: str | None = None) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_shares(tx, after=after, limit=limit)
    result = page(rows, limit)
    result["items"] = [_public(r) for r in result["items"]]
    return json_response(result)


@router.delete("/v1/shares/{share_id}", status_code=204)
async def revoke_share(share_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        revoked = await repo.revoke_share(tx, share_id=share_id)
    if not revoked:
        raise not_found("share")
    return Response(status_code=204)


@router.get("/s/{slug}", response_class=HTMLResponse)
async def view_share(slug: str, request: Request, db: Db, ctx: Ctx, format: str | None = None) -> Response:  # noqa: A002
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
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    if format == "json" or "application/json" in request.headers.get("accept", ""):
        return json_response(item, headers=headers)
    html = _templates.get_template("share.html").render(**item)
    return HTMLResponse(html, headers=headers)


@router.get("/s/{slug}/media/{media_id}")
async def shared_media(slug: str, media_id: UUID, request: Request, db: Db, ctx: Ctx) -> Response:
    if not _plausible(slug):
        raise not_found("media")
    async with db.as_anon(ctx) as tx:
        share = await repo.present_slug(tx, slug=slug)
        media = await repo.shared_media(tx, media_id=media_id) if share else None
    if media is None:
        raise not_found("media")
    return stream_media(request.app.state.storage, media, request.headers.get("range"))


def _plausible(slug: str) -> bool:
    return 22 <= len(slug) <= 64 and all(c.isalnum() or c in "-_" for c in slug)
