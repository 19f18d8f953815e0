"""The scheduler: nightly backups and the weekly restore drill (F1).

Run by `studio up` (a thread next to the API and worker processes) or alone as
`studio scheduler`. Any number may run; one is active: it holds a session-level
advisory lock on a connection of its own, and the others wait for it. What is due is
decided from backup_runs, so a restart or a second scheduler never runs a night's
backup twice, and a night missed while Studio was down is caught up at the next start.

- Every night at backup_hour_utc: a full backup on backup_full_weekday (or when the
  repository holds none), a differential one otherwise; into each repository.
- After that night's backup on backup_drill_weekday: the restore drill; and on an
  installation that has never been drilled, as soon as its first full backup exists,
  so that a new installation's backups are proven restorable on its first day.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from studio.config import WORKER_ROLE, Settings
from studio.launcher.deployment import Deployment
from studio.ops import repository, service
from studio.ops.backup import BackupType

log = logging.getLogger("studio.scheduler")

# Any constant works; it must only differ from other advisory locks Studio takes
# (those are transaction-level and keyed by user ids: hashtext(uuid) in int4 space).
SCHEDULER_LOCK_KEY = 0x5354_5544_494F  # "STUDIO"
TICK_SECONDS = 60.0


@dataclass(frozen=True)
class Task:
    kind: str               # backup | drill
    repo: int
    backup_type: BackupType | None = None


def night_start(now: datetime, settings: Settings) -> datetime:
    """The most recent scheduled moment (backup_hour_utc today, or yesterday if not yet)."""
    today = now.astimezone(UTC).replace(hour=settings.backup_hour_utc, minute=0, second=0, microsecond=0)
    return today if now >= today else today - timedelta(days=1)


def due_tasks(now: datetime, settings: Settings, runs: list[dict[str, Any]], *,
              has_full: Callable[[int], bool]) -> list[Task]:
    """What to run now, given the recorded runs (newest first) since at least the last
    scheduled moment. Failed scheduled runs are not retried before the next night (an
    admin was notified; `studio backup create` retries by hand)."""
    since = night_start(now, settings)
    repos = [1, 2] if settings.backup_s3_bucket else [1]
    tried = {(r["kind"], r["repo"]) for r in runs if r["trigger"] == "scheduled" and r["started_at"] >= since}
    # A repository without a full backup (a new installation, a restored copy whose
    # records came from elsewhere, a new S3 bucket) gets one now, retried hourly.
    # A run still marked running (a long first backup) counts for a day, not an hour.
    tried_lately = {(r["kind"], r["repo"]) for r in runs
                    if r["started_at"] >= now - timedelta(hours=24 if r.get("status") == "running" else 1)}
    tasks = []
    for repo in repos:
        empty = not has_full(repo)
        if empty and ("backup", repo) not in tried_lately:
            tasks.append(Task("backup", repo, "full"))
        elif not empty and ("backup", repo) not in tried:
            full = since.weekday() == settings.backup_full_weekday
            tasks.append(Task("backup", repo, "full" if full else "diff"))
    never_drilled = not any(r["kind"] == "drill" for r in runs)
    if since.weekday() == settings.backup_drill_weekday and ("drill", 1) not in tried:
        tasks.append(Task("drill", 1))
    elif never_drilled and ("drill", 1) not in tried_lately and not any(t.repo == 1 for t in tasks) \
            and has_full(1):
        tasks.append(Task("drill", 1))
    return tasks


class Scheduler:
    def __init__(self, deployment: Deployment, *, tick_seconds: float = TICK_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.deployment = deployment
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.stopping = threading.Event()
        self.active = threading.Event()  # set while this instance holds the lock
        self._repos_with_full: set[int] = set()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        """Until stop(): wait for the lock, then run what is due every tick."""
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.deployment.conninfo(WORKER_ROLE), autocommit=True) as lock_conn:
                    if not repository.try_advisory_lock(lock_conn, key=SCHEDULER_LOCK_KEY):
                        self.stopping.wait(self.tick_seconds)
                        continue
                    self.active.set()
                    log.info("scheduler active: backups nightly at %02d:00 UTC",
                             self.deployment.settings.backup_hour_utc)
                    try:
                        while not self.stopping.is_set():
                            repository.ping(lock_conn)  # the lock lives as long as this session
                            try:
                                ran = self.run_due()
                            except psycopg.OperationalError:
                                raise  # reconnect, and compete for the lock again
                            except Exception as exc:  # pgBackRest or the store unreachable: next tick
                                log.error("scheduler tick failed: %s", " ".join(str(exc).split()))
                                ran = []
                            # What ran may make more due at once (the first drill after the
                            # first full backup); otherwise wait for the next tick.
                            if not ran:
                                self.stopping.wait(self.tick_seconds)
                    finally:
                        self.active.clear()
            except psycopg.OperationalError as exc:
                log.warning("scheduler lost its database connection (%s); retrying", type(exc).__name__)
                self.stopping.wait(min(self.tick_seconds, 10))

    def _has_full(self, repo: int) -> bool:
        """`pgbackrest info` (an S3 request for repository 2) only until a full backup
        is seen: retention always keeps at least one, so the answer stays yes."""
        if repo not in self._repos_with_full:
            backrest = service.backrest_of(self.deployment)
            if any(b.type == "full" for b in backrest.backups(repo)):
                self._repos_with_full.add(repo)
        return repo in self._repos_with_full

    def run_due(self) -> list[Task]:
        deployment = self.deployment
        runs = service.recent_runs(deployment, limit=50)
        tasks = due_tasks(self.clock(), deployment.settings, runs, has_full=self._has_full)
        for task in tasks:
            if self.stopping.is_set():
                break
            try:
                if task.kind == "backup":
                    backup = service.create_backup(deployment, type=task.backup_type or "full",
                                                   repo_key=task.repo, trigger="scheduled")
                    log.info("scheduled %s backup %s to repository %d done", task.backup_type, backup.label,
                             task.repo)
                else:
                    result = service.drill(deployment, repo_key=task.repo, trigger="scheduled")
                    log.info("restore drill passed: %d tables, %d rows", result.tables, result.rows)
            except Exception as exc:  # recorded and notified by service; the scheduler goes on
                log.error("scheduled %s failed: %s", task.kind, " ".join(str(exc).split()))
        return tasks
