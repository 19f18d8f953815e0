"""The storage outbox's SQL (`public.storage_deletions`), run by workers.

A row is a file to delete once it is due. Triggers add one whenever a media row goes
(migration 0009); a worker adds one before it uploads a result, removed again by the
transaction that records the file, so a worker dying in between leaves a deletion due
later, never an orphan file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from studio.db.scopes import WorkerScope
from studio.storage.base import Bucket


async def plan_upload(tx: WorkerScope, *, bucket: Bucket, key: str, grace_seconds: float) -> UUID:
    """An outbox row that deletes `key` later unless the file is recorded first."""
    cur = await tx.conn.execute(
        """
        INSERT INTO public.storage_deletions (bucket, key, run_after)
        VALUES (%s, %s, pg_catalog.now() + pg_catalog.make_interval(secs => %s))
        RETURNING id
        """,
        (bucket, key, grace_seconds))
    row = await cur.fetchone()
    assert row is not None
    planned: UUID = row["id"]
    return planned


async def upload_recorded(tx: WorkerScope, *, planned_deletion: UUID) -> None:
    """The file is recorded (in this transaction): it stays."""
    await tx.conn.execute("DELETE FROM public.storage_deletions WHERE id = %s", (planned_deletion,))


@dataclass(frozen=True)
class PendingDeletion:
    id: UUID
    bucket: Bucket
    key: str
    mode: str          # delete | retire | erase (migration 0013) | erase_prefix (0014)
    attempts: int
    created_at: datetime


async def due_deletions(tx: WorkerScope, *, limit: int) -> list[PendingDeletion]:
    """Locks up to `limit` due outbox rows for this transaction."""
    cur = await tx.conn.execute(
        """
        SELECT id, bucket, key, mode, attempts, created_at FROM public.storage_deletions
         WHERE run_after <= pg_catalog.now()
         ORDER BY run_after LIMIT %s
         FOR UPDATE SKIP LOCKED
        """,
        (limit,))
    return [PendingDeletion(**row) for row in await cur.fetchall()]


async def deletion_done(tx: WorkerScope, *, deletion_id: UUID) -> None:
    await tx.conn.execute("DELETE FROM public.storage_deletions WHERE id = %s", (deletion_id,))


async def deletion_failed(tx: WorkerScope, *, deletion_id: UUID, error: str, retry_in: float) -> None:
    await tx.conn.execute(
        """
        UPDATE public.storage_deletions
           SET attempts = attempts + 1, last_error = %s,
               run_after = pg_catalog.now() + pg_catalog.make_interval(secs => %s)
         WHERE id = %s
        """,
        (error[:2000], retry_in, deletion_id))
