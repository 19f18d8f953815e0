"""Sharing by unguessable link: the owner creates and revokes links; anyone holding one
sees that item (HTML page or JSON) and its media, nothing else of the owner's (F11, F17)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from studio.http.deps import Cred, Ctx, Db, StorageDep
from studio.http.errors import ApiError, not_found
from studio.http.openapi import RANGES
from studio.http.responses import decode_cursor, json_response, page
from studio.media.streaming import stream_media
from studio.sharing import rendering, service
from studio.sharing import repository as repo
from studio.sharing.schemas import Share, ShareCreate, SharePage

router = APIRouter(tags=["sharing"])

Limit = Annotated[int, Query(ge=1, le=100)]


def _public(share: dict[str, Any]) -> dict[str, Any]:
    return share | {"url": f"/s/{share['slug']}"}


@router.post("/v1/shares", status_code=201, response_model=Share)
async def create_share(body: ShareCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """A link to one of the caller's generations or conversations (exactly one of the
    two), lasting until revoked or until `expires_at`; 404 when the target is not theirs."""
    share = await service.create_share(db, ctx, cred, generation_id=body.generation_id,
                                       conversation_id=body.conversation_id, expires_at=body.expires_at)
    return json_response(_public(share), 201)


@router.get("/v1/shares", response_model=SharePage)
async def list_shares(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 50, cursor: str | None = None,
                      generation_id: Annotated[UUID | None, Query(description="only the links to this generation")]
                      = None,
                      conversation_id: Annotated[UUID | None, Query(
                          description="only the links to this conversation")] = None) -> Response:
    """The caller's links that are not revoked (expired ones included, with their
    `expires_at`), newest first, in keyset pages."""
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_shares(tx, generation_id=generation_id, conversation_id=conversation_id,
                                      after=after, limit=limit)
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


@router.get("/s/{slug}", response_class=HTMLResponse, responses={404: {
    "description": "no such link, or expired or revoked: a page saying so, or the error JSON for a JSON client",
    "content": {"text/html": {}, "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}})
async def view_share(slug: str, request: Request, db: Db, ctx: Ctx, format: str | None = None) -> Response:  # noqa: A002
    """The shared item: an HTML page, or JSON with `?format=json` or `Accept:
    application/json`. An unknown, expired or revoked link is a 404: a page saying so
    for a browser, the usual error JSON for a JSON client."""
    headers = {"Content-Security-Policy": rendering.CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    wants_json = format == "json" or "application/json" in request.headers.get("accept", "")
    try:
        item = await service.view(db, ctx, slug)
    except ApiError as exc:
        if wants_json or exc.status != 404:
            raise
        return HTMLResponse(rendering.not_found_page(), status_code=404, headers=headers)
    if wants_json:
        return json_response(item, headers=headers)
    return HTMLResponse(rendering.share_page(item), headers=headers)


@router.get("/s/{slug}/media/{media_id}", responses={200: {"content": {"application/octet-stream": {}}}, **RANGES})
async def shared_media(slug: str, media_id: UUID, request: Request, db: Db, ctx: Ctx,
                       storage: StorageDep) -> Response:
    media = await service.shared_media(db, ctx, slug, media_id)
    return stream_media(storage, media, request.headers.get("range"))
