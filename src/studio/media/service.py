"""Media's rules: what may be uploaded (the declared type, checked again against the
file's first bytes), how an upload is stored and recorded (nothing kept when either
fails), and where a file is downloaded from (straight from the store when it can give
a short-lived URL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import filetype

from studio.auth.identity import Credential, RequestContext
from studio.db.scopes import ApiDatabase, UserScope
from studio.http.errors import ApiError, not_found
from studio.media import repository as repo
from studio.storage.base import ObjectTooLarge, Storage, StoredObject

# What may be uploaded, checked against the bytes themselves, not only the header.
UPLOAD_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "audio/x-wav", "audio/wav", "audio/mpeg",
                "audio/ogg", "video/mp4", "video/webm"}
_ALIASES = {"audio/wav": "audio/x-wav"}
SNIFF_BYTES = 262
# A user's storage when an admin has not set a quota row (the quotas table's default).
DEFAULT_STORAGE_BYTES = 5 * 1024 ** 3


def check_upload_type(declared: str) -> None:
    """415 unless `declared` (the upload's Content-Type) may be uploaded at all."""
    if declared not in UPLOAD_TYPES:
        raise ApiError(415, "unsupported_media_type", f"uploads may be one of {', '.join(sorted(UPLOAD_TYPES))}")


async def upload(db: ApiDatabase, ctx: RequestContext, cred: Credential, storage: Storage, *, declared: str,
                 chunks: AsyncIterator[bytes], max_bytes: int) -> dict[str, Any]:
    """Streams `chunks` into the caller's uploads in the `attachments` bucket and records
    the file; its media_objects row. The caller is authenticated before a single byte is
    read; the size is counted and the type checked against the first bytes while the
    file streams (413, 415), and a file that was not recorded (storage quota: 413) is
    deleted again."""
    async with db.as_user(cred, ctx) as tx:  # authenticate before accepting a single byte
        owner = tx.user.id
    media_id = uuid.uuid4()
    key = f"{owner}/uploads/{media_id}"
    stored = await store_checked(storage, key=key, declared=declared, chunks=chunks, max_bytes=max_bytes)
    try:
        async with db.as_user(cred, ctx) as tx:
            await check_storage_quota(tx, adding=stored.size)
            return await repo.record_upload(tx, media_id=media_id, key=key, size=stored.size,
                                            content_type=declared, sha256=stored.sha256)
    except BaseException:
        await storage.delete("attachments", key)  # not recorded: not kept
        raise


async def store_checked(storage: Storage, *, key: str, declared: str, chunks: AsyncIterator[bytes],
                        max_bytes: int) -> StoredObject:
    """Streams an upload into the `attachments` bucket at `key`, its size counted (413)
    and its first bytes checked against `declared` (415) on the way; nothing is stored
    when either fails. The caller records it, or deletes it again."""

    async def checked_body() -> AsyncIterator[bytes]:
        head = b""
        checked = False
        async for chunk in chunks:
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
        return await storage.put("attachments", key, checked_body(), content_type=declared, max_bytes=max_bytes)
    except ObjectTooLarge as exc:
        raise ApiError(413, "payload_too_large", f"uploads are limited to {max_bytes} bytes") from exc


async def record_file(tx: UserScope, *, media_id: UUID, key: str, stored: StoredObject) -> None:
    """Records a file stored by store_checked as the caller's (in their transaction)."""
    await repo.record_upload(tx, media_id=media_id, key=key, size=stored.size, content_type=stored.content_type,
                             sha256=stored.sha256)


async def delete_files(tx: UserScope, media_ids: list[UUID]) -> None:
    """Deletes the caller's files: rows now, bytes through the storage outbox once the
    transaction commits."""
    if media_ids:
        await repo.delete_files(tx, media_ids=media_ids)


async def check_storage_quota(tx: UserScope, *, adding: int) -> None:
    """413 when `adding` more bytes would take the caller past their storage quota."""
    used, quota = await repo.storage_used(tx, default_quota=DEFAULT_STORAGE_BYTES)
    if used + adding > quota:
        raise ApiError(413, "storage_quota_exceeded",
                       f"your files use {used} of your {quota} bytes of storage; this one needs {adding} more")


def _check_type(head: bytes, declared: str) -> None:
    kind = filetype.guess(head)
    actual = kind.mime if kind else None
    if actual is None or _ALIASES.get(declared, declared) != _ALIASES.get(actual, actual):
        raise ApiError(415, "unsupported_media_type",
                       f"the file's content is {actual or 'not a recognised media type'}, not {declared}")


async def find_media(db: ApiDatabase, ctx: RequestContext, cred: Credential, *, media_id: UUID) -> dict[str, Any]:
    """A file of the caller's, or 404 (someone else's file does not exist for them)."""
    async with db.as_user(cred, ctx) as tx:
        media = await repo.get_media(tx, media_id=media_id)
    if media is None:
        raise not_found("media")
    return media


async def download_url(db: ApiDatabase, ctx: RequestContext, cred: Credential, storage: Storage, *,
                       media_id: UUID, expires_in: int) -> dict[str, Any]:
    """Where the caller downloads a file of theirs: a URL straight from the store, valid
    `expires_in` seconds, or this API's own streaming URL where the store has none."""
    media = await find_media(db, ctx, cred, media_id=media_id)
    direct = await storage.presigned_url(media["bucket"], media["key"], expires_in=expires_in,
                                         content_type=media["content_type"])
    if direct is None:
        return {"url": f"/v1/media/{media_id}", "expires_in": None}
    return {"url": direct, "expires_in": expires_in}
