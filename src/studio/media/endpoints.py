"""Stored media: uploads into the private `attachments` bucket, downloads (owner only,
or through a share), byte ranges, and short-lived direct URLs where the store has them.
Media never travel as base64 inside JSON."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import filetype
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from studio.generation import repository as generation_repo
from studio.http.deps import Cred, Ctx, Db, SettingsDep
from studio.http.errors import ApiError, not_found
from studio.http.responses import json_response
from studio.media import repository as repo
from studio.ratelimit import service as ratelimit
from studio.storage.base import ObjectNotFound, ObjectTooLarge, Storage

router = APIRouter(prefix="/v1", tags=["media"])

# What may be uploaded, checked against the bytes themselves, not only the header.
UPLOAD_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "audio/x-wav", "audio/wav", "audio/mpeg",
                "audio/ogg", "video/mp4", "video/webm"}
_ALIASES = {"audio/wav": "audio/x-wav"}
SNIFF_BYTES = 262


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range (RFC 9110) as inclusive (start, end); None for the whole file.
    Raises ApiError 416 for a range that cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # several ranges or nonsense: answer with the whole file, as allowed
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            raise ApiError(416, "range_not_satisfiable", "empty suffix range", {"Content-Range": f"bytes */{size}"})
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ApiError(416, "range_not_satisfiable", f"the file has {size} bytes",
                       {"Content-Range": f"bytes */{size}"})
    return start, end


@router.get("/media/{media_id}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "partial content"}})
async def download_media(media_id: UUID, request: Request, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        media = await generation_repo.get_media(tx, media_id=media_id)
    if media is None:
        raise not_found("media")
    # The transaction is over before the first byte is streamed: a slow download
    # holds no database connection.
    return stream_media(request.app.state.storage, media, request.headers.get("range"))


def stream_media(storage: Storage, media: dict[str, Any], range_header: str | None) -> Response:
    size = int(media["size_bytes"])
    byte_range = parse_range(range_header, size)
    start, end = byte_range if byte_range else (0, size - 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(max(0, end - start + 1)),
               "ETag": f'"{media["checksum_sha256"]}"', "Cache-Control": "private, max-age=3600",
               "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"}
    if byte_range:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"

    async def body():
        if size == 0:
            return
        try:
            async for chunk in storage.read(media["bucket"], media["key"], start=start, end=end):
                yield chunk
        except ObjectNotFound:  # the row exists but the file is gone: end the stream short
            return

    return StreamingResponse(body(), status_code=206 if byte_range else 200, media_type=media["content_type"],
                             headers=headers)


@router.get("/media/{media_id}/url")
async def media_url(media_id: UUID, request: Request, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """A short-lived URL for downloading straight from the store (S3), or this API's own
    streaming URL where the store has none (local files)."""
    async with db.as_user(cred, ctx) as tx:
        media = await generation_repo.get_media(tx, media_id=media_id)
    if media is None:
        raise not_found("media")
    storage: Storage = request.app.state.storage
    direct = await storage.presigned_url(media["bucket"], media["key"], expires_in=settings.s3_presign_seconds,
                                         content_type=media["content_type"])
    if direct is None:
        return json_response({"url": f"/v1/media/{media_id}", "expires_in": None})
    return json_response({"url": direct, "expires_in": settings.s3_presign_seconds})


@router.post("/uploads", status_code=201)
async def upload(request: Request, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """The request body is the file itself (Content-Type: its media type), streamed to
    storage. The size limit is counted while streaming and the type is checked against
    the file's first bytes; nothing is kept when either fails."""
    declared = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if declared not in UPLOAD_TYPES:
        raise ApiError(415, "unsupported_media_type", f"uploads may be one of {', '.join(sorted(UPLOAD_TYPES))}")
    await ratelimit.check(request, ratelimit.UPLOADS, cred)
    async with db.as_user(cred, ctx) as tx:  # authenticate before accepting a single byte
        owner = tx.user.id
    media_id = uuid.uuid4()
    key = f"{owner}/uploads/{media_id}"
    storage: Storage = request.app.state.storage

    async def checked_body() -> AsyncIterator[bytes]:
        head = b""
        checked = False
        async for chunk in request.stream():
            if not checked:
                head += chunk
                if len(head) < SNIFF_BYTES:
                    continue
                _check_type(head, declared)
                checked, chunk = True, head
            yield chunk
        if not checked:
            _check_type(head, declared)
            yield head

    try:
        stored = await storage.put("attachments", key, checked_body(), content_type=declared,
                                   max_bytes=settings.max_upload_bytes)
    except ObjectTooLarge as exc:
        raise ApiError(413, "payload_too_large", f"uploads are limited to {settings.max_upload_bytes} bytes") from exc
    try:
        async with db.as_user(cred, ctx) as tx:
            row = await repo.record_upload(tx, media_id=media_id, key=key, size=stored.size,
                                           content_type=declared, sha256=stored.sha256)
    except BaseException:
        await storage.delete("attachments", key)  # not recorded: not kept
        raise
    return json_response(row | {"url": f"/v1/media/{media_id}"}, 201, headers={"Location": f"/v1/media/{media_id}"})


def _check_type(head: bytes, declared: str) -> None:
    kind = filetype.guess(head)
    actual = kind.mime if kind else None
    if actual is None or _ALIASES.get(declared, declared) != _ALIASES.get(actual, actual):
        raise ApiError(415, "unsupported_media_type",
                       f"the file's content is {actual or 'not a recognised media type'}, not {declared}")
