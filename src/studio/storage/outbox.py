"""Deleting the files the outbox lists (a duty of every worker process)."""

from __future__ import annotations

from studio.db.scopes import WorkerDatabase
from studio.jobs.worker import backoff_seconds
from studio.storage import repository as repo
from studio.storage.base import Storage


async def drain(db: WorkerDatabase, storage: Storage, *, recovery_seconds: float, limit: int = 50) -> None:
    """Deletes the due files, then their rows. `recovery_seconds` > 0: deleted media are
    retired for that long (point-in-time recovery) instead of deleted at once."""
    async with db.as_worker() as tx:
        for deletion in await repo.due_deletions(tx, limit=limit):
            try:
                await _remove(storage, deletion, recovery_seconds=recovery_seconds)
            except Exception as exc:  # the store is down: keep the row, try later
                await repo.deletion_failed(tx, deletion_id=deletion.id, error=str(exc),
                                           retry_in=backoff_seconds(deletion.attempts + 1))
            else:
                await repo.deletion_done(tx, deletion_id=deletion.id)


async def _remove(storage: Storage, deletion: repo.PendingDeletion, *, recovery_seconds: float) -> None:
    bucket, key = deletion.bucket, deletion.key
    if deletion.mode == "erase":
        await storage.erase(bucket, key)
    elif deletion.mode == "erase_prefix":
        await storage.erase_prefix(bucket, key)
    elif deletion.mode == "retire" and recovery_seconds > 0:
        await storage.retire(bucket, key)
    else:
        await storage.delete(bucket, key)
