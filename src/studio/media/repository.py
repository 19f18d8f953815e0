"""Media SQL: uploads and downloads in the user's scope, generated files in the worker's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from studio.db.scopes import UserScope, WorkerScope


async def record_upload(tx: UserScope, *, media_id: UUID, key: str, size: int, content_type: str,
                        sha256: str) -> dict[str, Any]:
    cur = await tx.conn.execute(
        """
        INSERT INTO public.media_objects (id, owner_id, bucket, key, size_bytes, content_type, checksum_sha256)
        VALUES (%s, %s, 'attachments', %s, %s, %s, %s)
        RETURNING id, size_bytes AS size, content_type, checksum_sha256 AS sha256, created_at
        """,
        (media_id, tx.user.id, key, size, content_type, sha256))
    row = await cur.fetchone()
    assert row is not None
    return row


async def delete_files(tx: UserScope, *, media_ids: list[UUID]) -> None:
    """The caller's files; their deletion queues the bytes in the storage outbox (a trigger)."""
    await tx.conn.execute("DELETE FROM public.media_objects WHERE id = ANY(%s) AND owner_id = %s",
                          (media_ids, tx.user.id))


async def storage_used(tx: UserScope, *, default_quota: int) -> tuple[int, int]:
    """(bytes of all the caller's files, their storage quota in bytes: their quotas row's,
    else `default_quota`)."""
    cur = await tx.conn.execute(
        """
        SELECT (SELECT COALESCE(sum(size_bytes), 0) FROM public.media_objects WHERE owner_id = %(user)s)::bigint
                   AS used,
               COALESCE((SELECT q.storage_bytes FROM public.quotas q WHERE q.user_id = %(user)s),
                        %(default)s)::bigint AS quota
        """,
        {"user": tx.user.id, "default": default_quota})
    row = await cur.fetchone()
    assert row is not None
    return int(row["used"]), int(row["quota"])


async def get_media(tx: UserScope, *, media_id: UUID) -> dict[str, Any] | None:
    """A stored file of the caller's (RLS: the owner's only), with where its bytes are."""
    cur = await tx.conn.execute(
        "SELECT id, bucket, key, size_bytes, content_type, checksum_sha256 FROM public.media_objects WHERE id = %s",
        (media_id,))
    return await cur.fetchone()


async def record_generated(tx: WorkerScope, *, media_id: UUID, owner_id: UUID, generation_id: UUID, key: str,
                           size: int, content_type: str, sha256: str) -> None:
    """A generation's result file (its policy: the generation is running and the owner's)."""
    await tx.conn.execute(
        """
        INSERT INTO public.media_objects (id, owner_id, generation_id, bucket, key, size_bytes, content_type,
                                          checksum_sha256)
        VALUES (%s, %s, %s, 'media', %s, %s, %s, %s)
        """,
        (media_id, owner_id, generation_id, key, size, content_type, sha256))


async def record_training_file(tx: WorkerScope, *, media_id: UUID, owner_id: UUID, key: str, size: int,
                               content_type: str, sha256: str) -> None:
    """A training run's file, its owner's (its policy: the run is training, and the key
    lies under <owner>/training/<run>/)."""
    await tx.conn.execute(
        """
        INSERT INTO public.media_objects (id, owner_id, bucket, key, size_bytes, content_type, checksum_sha256)
        VALUES (%s, %s, 'media', %s, %s, %s, %s)
        """,
        (media_id, owner_id, key, size, content_type, sha256))
