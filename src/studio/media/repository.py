"""Media SQL in the user's scope."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from studio.db.scopes import UserScope


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
