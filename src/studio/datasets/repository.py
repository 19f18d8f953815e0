"""`public.datasets` and `public.dataset_images`, and nothing else, in the owner's scope
(RLS: their own datasets only) and, for training runs, the worker's. An image's file is
a media_objects row, written and deleted by the media domain (media/service.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from studio.db.scopes import UserScope, WorkerScope

# A dataset with what its images add up to (the files' sizes live with the files).
_DATASET = """
SELECT d.id, d.name, d.description, d.status, d.image_count, d.created_at, d.updated_at,
       COALESCE(s.total_bytes, 0)::bigint AS total_bytes
  FROM public.datasets d
  LEFT JOIN LATERAL (SELECT sum(m.size_bytes) AS total_bytes
                       FROM public.dataset_images i
                       JOIN public.media_objects m ON m.id = i.media_object_id
                      WHERE i.dataset_id = d.id) AS s ON true
"""

_IMAGE = """
SELECT i.id, i.media_object_id AS media_id, i.caption, i.width, i.height, i.checksum_sha256, i.created_at,
       m.size_bytes, m.content_type
  FROM public.dataset_images i
  JOIN public.media_objects m ON m.id = i.media_object_id
"""


async def count_datasets(tx: UserScope) -> int:
    cur = await tx.conn.execute("SELECT count(*) AS n FROM public.datasets WHERE user_id = %s", (tx.user.id,))
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def lock_user_datasets(tx: UserScope) -> None:
    """Serializes the caller's dataset creations (the count limit holds under races)."""
    await tx.conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 7))",
                          (f"datasets:{tx.user.id}",))


async def create(tx: UserScope, *, name: str, description: str | None) -> dict[str, Any]:
    cur = await tx.conn.execute(
        "INSERT INTO public.datasets (user_id, name, description) VALUES (%s, %s, %s) RETURNING id",
        (tx.user.id, name, description))
    row = await cur.fetchone()
    assert row is not None
    found = await get(tx, dataset_id=row["id"])
    assert found is not None
    return found


async def get(tx: UserScope, *, dataset_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_DATASET + " WHERE d.id = %s AND d.user_id = %s", (dataset_id, tx.user.id))
    return await cur.fetchone()


async def lock(tx: UserScope, *, dataset_id: UUID) -> dict[str, Any] | None:
    """The caller's dataset, its row locked until the transaction ends: uploads, deletes
    and training starts on one dataset take turns (the image limit, the recount and
    "no delete while training" hold under races). None: no such dataset of theirs."""
    cur = await tx.conn.execute(
        "SELECT id, status, image_count FROM public.datasets WHERE id = %s AND user_id = %s FOR UPDATE",
        (dataset_id, tx.user.id))
    return await cur.fetchone()


async def list_datasets(tx: UserScope, *, after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    """Newest first, limit + 1 rows (the extra one says a next page exists)."""
    cur = await tx.conn.execute(
        _DATASET + """
         WHERE d.user_id = %(user)s
           AND (%(after_ts)s::timestamptz IS NULL OR (d.created_at, d.id) < (%(after_ts)s, %(after_id)s::uuid))
         ORDER BY d.created_at DESC, d.id DESC LIMIT %(limit)s
        """,
        {"user": tx.user.id, "after_ts": after[0] if after else None, "after_id": after[1] if after else None,
         "limit": limit + 1})
    return await cur.fetchall()


async def update(tx: UserScope, *, dataset_id: UUID, changes: dict[str, Any]) -> bool:
    """`changes` holds only name and/or description (the endpoint's model says so)."""
    name = changes.get("name")
    cur = await tx.conn.execute(
        """
        UPDATE public.datasets
           SET name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
               description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END
         WHERE id = %(id)s AND user_id = %(user)s
        RETURNING id
        """,
        {"set_name": "name" in changes and name is not None, "name": name,
         "set_description": "description" in changes, "description": changes.get("description"),
         "id": dataset_id, "user": tx.user.id})
    return await cur.fetchone() is not None


async def active_training_runs(tx: UserScope, *, dataset_id: UUID) -> int:
    cur = await tx.conn.execute(
        """
        SELECT count(*) AS n FROM public.training_jobs
         WHERE dataset_id = %s AND user_id = %s AND status IN ('queued', 'preparing', 'training')
        """,
        (dataset_id, tx.user.id))
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def delete(tx: UserScope, *, dataset_id: UUID) -> list[UUID]:
    """Deletes the dataset and its images; returns the images' files (media rows), which
    the caller deletes in the same transaction through the media domain."""
    cur = await tx.conn.execute(
        """
        WITH images AS (
            DELETE FROM public.dataset_images WHERE dataset_id = %(id)s RETURNING media_object_id
        ), dataset AS (
            DELETE FROM public.datasets WHERE id = %(id)s AND user_id = %(user)s
        )
        SELECT media_object_id FROM images
        """,
        {"id": dataset_id, "user": tx.user.id})
    return [row["media_object_id"] for row in await cur.fetchall()]


async def image_by_checksum(tx: UserScope, *, dataset_id: UUID, sha256: str) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_IMAGE + " WHERE i.dataset_id = %s AND i.checksum_sha256 = %s",
                                (dataset_id, sha256))
    return await cur.fetchone()


async def add_image(tx: UserScope, *, dataset_id: UUID, media_id: UUID, caption: str | None, width: int,
                    height: int, sha256: str) -> dict[str, Any] | None:
    """None: the dataset already has an image with these bytes (a concurrent upload of
    the same file won the race); nothing was added."""
    cur = await tx.conn.execute(
        """
        INSERT INTO public.dataset_images (dataset_id, media_object_id, caption, position, width, height,
                                           checksum_sha256)
        VALUES (%(dataset)s, %(media)s, %(caption)s,
                LEAST((SELECT d.image_count FROM public.datasets d WHERE d.id = %(dataset)s), 100000),
                %(width)s, %(height)s, %(sha256)s)
        ON CONFLICT (dataset_id, checksum_sha256) DO NOTHING
        RETURNING id
        """,
        {"dataset": dataset_id, "media": media_id, "caption": caption, "width": width, "height": height,
         "sha256": sha256})
    row = await cur.fetchone()
    if row is None:
        return None
    return await get_image(tx, dataset_id=dataset_id, image_id=row["id"])


async def recount(tx: UserScope, *, dataset_id: UUID) -> None:
    await tx.conn.execute(
        """
        UPDATE public.datasets
           SET image_count = (SELECT count(*) FROM public.dataset_images WHERE dataset_id = %(id)s)
         WHERE id = %(id)s AND user_id = %(user)s
        """,
        {"id": dataset_id, "user": tx.user.id})


async def get_image(tx: UserScope, *, dataset_id: UUID, image_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_IMAGE + " WHERE i.dataset_id = %s AND i.id = %s", (dataset_id, image_id))
    return await cur.fetchone()


async def list_images(tx: UserScope, *, dataset_id: UUID, after: tuple[datetime, UUID] | None,
                      limit: int) -> list[dict[str, Any]]:
    """In upload order, limit + 1 rows."""
    cur = await tx.conn.execute(
        _IMAGE + """
         WHERE i.dataset_id = %(dataset)s
           AND (%(after_ts)s::timestamptz IS NULL OR (i.created_at, i.id) > (%(after_ts)s, %(after_id)s::uuid))
         ORDER BY i.created_at, i.id LIMIT %(limit)s
        """,
        {"dataset": dataset_id, "after_ts": after[0] if after else None, "after_id": after[1] if after else None,
         "limit": limit + 1})
    return await cur.fetchall()


async def set_captions(tx: UserScope, *, dataset_id: UUID, captions: list[tuple[UUID, str | None]]) -> int:
    """Sets each image's caption in one statement; returns how many images of the dataset
    matched (fewer than given: some id is not in it)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.dataset_images i SET caption = c.caption
          FROM ROWS FROM (pg_catalog.unnest(%s::uuid[]), pg_catalog.unnest(%s::text[])) AS c (id, caption)
         WHERE i.id = c.id AND i.dataset_id = %s
        """,
        ([image_id for image_id, _ in captions], [caption for _, caption in captions], dataset_id))
    return cur.rowcount


async def delete_image(tx: UserScope, *, dataset_id: UUID, image_id: UUID) -> UUID | None:
    """Deletes the image; returns its file (media row) for the caller to delete in the
    same transaction, or None when the dataset has no such image."""
    cur = await tx.conn.execute(
        "DELETE FROM public.dataset_images WHERE id = %s AND dataset_id = %s RETURNING media_object_id",
        (image_id, dataset_id))
    row = await cur.fetchone()
    return row["media_object_id"] if row else None


async def images_for_training(tx: WorkerScope, *, dataset_id: UUID) -> list[dict[str, Any]]:
    """Every image of a dataset with where its file is, in upload order (a run reads the
    dataset it was started on, whoever owns it: the job says whose it is)."""
    cur = await tx.conn.execute(
        """
        SELECT i.id, i.caption, i.width, i.height, m.bucket, m.key, m.content_type
          FROM public.dataset_images i
          JOIN public.media_objects m ON m.id = i.media_object_id
         WHERE i.dataset_id = %s
         ORDER BY i.created_at, i.id
        """,
        (dataset_id,))
    return await cur.fetchall()
