"""Hourly housekeeping of every worker process (F20): retention of ended shares and
unused uploads, notices of share links about to expire, retired files past the recovery window, temporary files (interrupted
uploads, scratch directories of crashed tasks). Several workers may run it at once:
every step is idempotent."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from studio.db.scopes import WorkerDatabase
from studio.notifications import repository as notifications
from studio.ops import repository as repo
from studio.sharing import repository as sharing
from studio.storage.base import Storage

log = logging.getLogger("studio.worker")


@dataclass(frozen=True)
class Retention:
    # Deleted media are retired for this long (point-in-time recovery), then purged;
    # 0: deleted at once.
    media_recovery_seconds: float = 0.0
    share_retention_days: int = 30      # shares ended this many days ago go
    share_notice_hours: float = 24.0    # owners are told when a link expires within this
    upload_orphan_days: int = 7         # uploads nothing uses after this many days go
    temp_max_age_seconds: float = 86400.0
    scratch_dir: Path | None = None


async def run(db: WorkerDatabase, storage: Storage, retention: Retention) -> dict[str, int]:
    async with db.as_worker() as tx:
        done = await repo.apply_retention(tx, share_days=retention.share_retention_days,
                                          upload_days=retention.upload_orphan_days)
    async with db.as_worker() as tx:
        # Links that expire within a day: their owners are told once (marked in the same
        # transaction as the notifications, so a crash between them tells nobody twice).
        expiring = await sharing.mark_expiring(tx, within_hours=retention.share_notice_hours)
        await notifications.shares_expiring(tx, shares=expiring)
    done["expiring_share_notices"] = len(expiring)
    if retention.media_recovery_seconds > 0:
        done["purged_retired_files"] = await storage.purge_retired(retention.media_recovery_seconds)
    done["stale_temp_files"] = await storage.remove_stale_temp(retention.temp_max_age_seconds)
    if retention.scratch_dir is not None:
        done["stale_scratch_dirs"] = await asyncio.to_thread(
            remove_stale_dirs, retention.scratch_dir, retention.temp_max_age_seconds)
    if any(done.values()):
        log.info("housekeeping: %s", ", ".join(f"{k} {v}" for k, v in done.items() if v))
    return done


def remove_stale_dirs(root: Path, older_than_seconds: float) -> int:
    """Scratch directories of tasks that crashed (a running task's directory is fresh:
    every file it writes touches it)."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
