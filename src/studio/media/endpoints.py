"""Stored media: uploads into the private `attachments` bucket, downloads (owner only,
or through a share), byte ranges, and short-lived direct URLs where the store has them.
Media never travel as base64 inside JSON."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from studio.http.deps import Cred, Ctx, Db, SettingsDep, StorageDep
from studio.http.responses import json_response
from studio.media import service
from studio.media.streaming import stream_media
from studio.http.openapi import RANGES, RATE_LIMITED
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["media"])


@router.get("/media/{media_id}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}, **RANGES})
async def download_media(media_id: UUID, request: Request, db: Db, ctx: Ctx, cred: Cred,
                         storage: StorageDep) -> Response:
    media = await service.find_media(db, ctx, cred, media_id=media_id)
    # The transaction is over before the first byte is streamed: a slow download
    # holds no database connection.
    return stream_media(storage, media, request.headers.get("range"))


@router.get("/media/{media_id}/url")
async def media_url(media_id: UUID, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep,
                    storage: StorageDep) -> Response:
    """A short-lived URL for downloading straight from the store (S3), or this API's own
    streaming URL where the store has none (local files)."""
    url = await service.download_url(db, ctx, cred, storage, media_id=media_id,
                                     expires_in=settings.s3_presign_seconds)
    return json_response(url)


@router.post("/uploads", status_code=201, responses=RATE_LIMITED)
async def upload(request: Request, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep,
                 storage: StorageDep) -> Response:
    """The request body is the file itself (Content-Type: its media type), streamed to
    storage. The size limit is counted while streaming and the type is checked against
    the file's first bytes; nothing is kept when either fails."""
    declared = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    service.check_upload_type(declared)
    await ratelimit.check(request, ratelimit.UPLOADS, cred)
    row = await service.upload(db, ctx, cred, storage, declared=declared,
                               chunks=request.stream(), max_bytes=settings.max_upload_bytes)
    location = f"/v1/media/{row['id']}"
    return json_response(row | {"url": location}, 201, headers={"Location": location})
