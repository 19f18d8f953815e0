"""The backup scheduler: what is due when (pure functions, hand-written runs), and
the advisory lock that lets only one of several schedulers act (a real database)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from studio.config import WORKER_ROLE, Settings
from studio.launcher.deployment import Deployment
from studio.ops.backup import BackupError
from studio.ops.scheduler import (
    SCHEDULER_LOCK_KEY,
    Scheduler,
    Task,
    due_tasks,
    night_start,
)

# 2025-01-19 is a Sunday (weekday 6), 2025-01-22 a Wednesday (weekday 2).
SUNDAY = datetime(2025, 1, 19, tzinfo=UTC)
WEDNESDAY = datetime(2025, 1, 22, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"backup_hour_utc": 3, "backup_full_weekday": 6, "backup_drill_weekday": 6}
    values.update(overrides)
    return Settings(env="test", home=tmp_path, **values)


def run(kind: str, started_at: datetime, *, repo: int = 1, trigger: str = "scheduled",
        status: str = "succeeded", backup_type: str | None = "full") -> dict[str, Any]:
    """A backup_runs row as repository.recent_runs returns it."""
    return {"kind": kind, "repo": repo, "trigger": trigger, "status": status, "started_at": started_at,
            "backup_type": backup_type if kind == "backup" else None}


def has_full(*repos: int):
    return lambda repo: repo in repos


# An installation that has been drilled before: only the weekly drill is due.
DRILLED = run("drill", datetime(2025, 1, 12, 3, 30, tzinfo=UTC))


# --------------------------------------------------------------------------- night_start


def test_night_start_is_today_from_the_backup_hour(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert night_start(WEDNESDAY.replace(hour=3), s) == WEDNESDAY.replace(hour=3)
    assert night_start(WEDNESDAY.replace(hour=15, minute=30), s) == WEDNESDAY.replace(hour=3)
    assert night_start(WEDNESDAY.replace(hour=23, minute=59, second=59), s) == WEDNESDAY.replace(hour=3)


def test_night_start_before_the_backup_hour_is_the_previous_night(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert night_start(WEDNESDAY.replace(hour=2, minute=59, second=59), s) == WEDNESDAY.replace(hour=3) - timedelta(days=1)
    assert night_start(WEDNESDAY, s) == WEDNESDAY.replace(hour=3) - timedelta(days=1)
    # Across a month boundary.
    assert night_start(datetime(2025, 3, 1, 1, tzinfo=UTC), s) == datetime(2025, 2, 28, 3, tzinfo=UTC)


def test_night_start_is_in_utc_whatever_the_clock_zone(tmp_path: Path) -> None:
    s = settings(tmp_path)
    # 04:30 at UTC+2 is 02:30 UTC: before tonight's 03:00 UTC.
    assert night_start(datetime(2025, 1, 22, 4, 30, tzinfo=CEST), s) == datetime(2025, 1, 21, 3, tzinfo=UTC)
    # 05:30 at UTC+2 is 03:30 UTC.
    assert night_start(datetime(2025, 1, 22, 5, 30, tzinfo=CEST), s) == datetime(2025, 1, 22, 3, tzinfo=UTC)
    assert night_start(WEDNESDAY.replace(hour=12), settings(tmp_path, backup_hour_utc=0)) == WEDNESDAY
    assert night_start(WEDNESDAY.replace(hour=22), settings(tmp_path, backup_hour_utc=23)) == \
        WEDNESDAY.replace(hour=23) - timedelta(days=1)


# --------------------------------------------------------------------------- due_tasks


def test_full_backup_on_the_full_weekday(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=3)
    assert due_tasks(SUNDAY.replace(hour=4), s, [], has_full=has_full(1)) == [Task("backup", 1, "full")]


def test_diff_backup_on_other_days(tmp_path: Path) -> None:
    s = settings(tmp_path)  # full backup and drill on Sundays
    for day in range(1, 7):  # Monday 20th .. Saturday 25th
        now = datetime(2025, 1, 19 + day, 3, 0, 1, tzinfo=UTC)
        assert due_tasks(now, s, [], has_full=has_full(1)) == [Task("backup", 1, "diff")], now


def test_full_backup_when_the_repository_has_none(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=3)
    assert due_tasks(WEDNESDAY.replace(hour=4), s, [], has_full=has_full()) == [Task("backup", 1, "full")]


def test_empty_repository_gets_a_full_backup_retried_hourly(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=3)
    now = WEDNESDAY.replace(hour=9)
    # Tonight's scheduled backup failed: a repository holding a full backup waits for
    # the next night, an empty one gets a full backup now...
    failed_tonight = [run("backup", WEDNESDAY.replace(hour=3, second=5), status="failed", backup_type="diff")]
    assert due_tasks(now, s, failed_tonight + [DRILLED], has_full=has_full(1)) == []
    assert due_tasks(now, s, failed_tonight, has_full=has_full()) == [Task("backup", 1, "full")]
    # ...but not again within the hour after an attempt, manual ones included.
    for started_at, trigger in ((now - timedelta(minutes=30), "manual"), (now - timedelta(hours=1), "scheduled")):
        runs = [run("backup", started_at, trigger=trigger, status="failed")]
        assert due_tasks(now, s, runs, has_full=has_full()) == [], (started_at, trigger)
    older = [run("backup", now - timedelta(hours=1, seconds=1), status="failed")]
    assert due_tasks(now, s, older, has_full=has_full()) == [Task("backup", 1, "full")]
    # Per repository: an attempt on the bucket does not hold back the local one.
    both = settings(tmp_path, backup_drill_weekday=3, backup_s3_bucket="offsite")
    bucket_tried = [run("backup", now - timedelta(minutes=10), repo=2, status="failed")]
    assert due_tasks(now, both, bucket_tried, has_full=has_full(1)) == [Task("backup", 1, "diff")]
    assert due_tasks(now, both, bucket_tried, has_full=has_full()) == [Task("backup", 1, "full")]


def test_nothing_when_tonights_scheduled_backup_already_started(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=3)
    now = WEDNESDAY.replace(hour=9)
    tonight = WEDNESDAY.replace(hour=3, minute=0, second=5)
    for status in ("succeeded", "failed", "running"):  # a failed one is not retried before the next night
        runs = [run("backup", tonight, status=status, backup_type="diff"), DRILLED]
        assert due_tasks(now, s, runs, has_full=has_full(1)) == [], status
    # Exactly at the night's start counts as tonight.
    assert due_tasks(now, s, [run("backup", WEDNESDAY.replace(hour=3)), DRILLED], has_full=has_full(1)) == []
    # Recorded in another time zone: the same instant.
    assert due_tasks(now, s, [run("backup", datetime(2025, 1, 22, 5, 1, tzinfo=CEST)), DRILLED],
                     has_full=has_full(1)) == []


def test_backup_due_when_only_older_or_manual_runs_exist(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=3)
    now = WEDNESDAY.replace(hour=9)
    runs = [
        run("backup", WEDNESDAY.replace(hour=8), trigger="manual"),          # manual: not the nightly one
        run("verify", WEDNESDAY.replace(hour=4), backup_type=None),          # another kind
        run("backup", WEDNESDAY.replace(hour=2, minute=59, second=59)),      # last night's
        run("backup", WEDNESDAY.replace(hour=4), repo=2),                    # another repository
    ]
    assert due_tasks(now, s, runs, has_full=has_full(1)) == [Task("backup", 1, "diff")]


def test_before_the_backup_hour_counts_as_the_previous_night(tmp_path: Path) -> None:
    s = settings(tmp_path)
    monday_early = datetime(2025, 1, 20, 2, 0, tzinfo=UTC)  # Sunday night's schedule still runs
    assert due_tasks(monday_early, s, [], has_full=has_full(1)) == [Task("backup", 1, "full"), Task("drill", 1)]
    sunday_runs = [run("drill", SUNDAY.replace(hour=3, minute=20)), run("backup", SUNDAY.replace(hour=3))]
    assert due_tasks(monday_early, s, sunday_runs, has_full=has_full(1)) == []
    # From 03:00 on Monday it is Monday's night: a differential backup, no drill.
    assert due_tasks(monday_early.replace(hour=3), s, sunday_runs, has_full=has_full(1)) == \
        [Task("backup", 1, "diff")]


def test_both_repositories_when_a_bucket_is_set(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_s3_bucket="offsite", backup_drill_weekday=3)
    now = WEDNESDAY.replace(hour=4)
    assert due_tasks(now, s, [], has_full=has_full(1, 2)) == [Task("backup", 1, "diff"), Task("backup", 2, "diff")]
    # Each repository on its own: the bucket holds no full backup yet.
    assert due_tasks(now, s, [], has_full=has_full(1)) == [Task("backup", 1, "diff"), Task("backup", 2, "full")]
    # Repository 1 done tonight: only repository 2 is due.
    assert due_tasks(now, s, [run("backup", WEDNESDAY.replace(hour=3, minute=1)), DRILLED],
                     has_full=has_full(1, 2)) == [Task("backup", 2, "diff")]
    assert due_tasks(SUNDAY.replace(hour=4), s, [], has_full=has_full(1, 2)) == \
        [Task("backup", 1, "full"), Task("backup", 2, "full")]
    # Without a bucket, only the local repository.
    assert due_tasks(now, settings(tmp_path, backup_drill_weekday=3), [], has_full=has_full(1, 2)) == \
        [Task("backup", 1, "diff")]


def test_drill_only_on_the_drill_weekday_after_the_backup(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=2)  # Wednesday
    wednesday = WEDNESDAY.replace(hour=5)
    assert due_tasks(wednesday, s, [], has_full=has_full(1)) == [Task("backup", 1, "diff"), Task("drill", 1)]
    thursday = wednesday + timedelta(days=1)
    assert due_tasks(thursday, s, [], has_full=has_full(1)) == [Task("backup", 1, "diff")]
    tuesday = wednesday - timedelta(days=1)
    assert due_tasks(tuesday, s, [], has_full=has_full(1)) == [Task("backup", 1, "diff")]
    # Tonight's drill already ran (whatever its outcome): not again; the backup is still due.
    for status in ("succeeded", "failed"):
        drilled = [run("drill", WEDNESDAY.replace(hour=3, minute=30), status=status)]
        assert due_tasks(wednesday, s, drilled, has_full=has_full(1)) == [Task("backup", 1, "diff")]
    # A manual drill does not replace the scheduled one.
    manual = [run("drill", WEDNESDAY.replace(hour=4), trigger="manual"), run("backup", WEDNESDAY.replace(hour=3))]
    assert due_tasks(wednesday, s, manual, has_full=has_full(1)) == [Task("drill", 1)]
    # With a bucket, still one drill (of repository 1) after both backups.
    both = settings(tmp_path, backup_drill_weekday=2, backup_s3_bucket="offsite")
    assert due_tasks(wednesday, both, [], has_full=has_full(1, 2)) == \
        [Task("backup", 1, "diff"), Task("backup", 2, "diff"), Task("drill", 1)]


def test_full_and_drill_on_the_same_night(tmp_path: Path) -> None:
    s = settings(tmp_path)  # both on Sunday (the defaults)
    assert due_tasks(SUNDAY.replace(hour=3), s, [], has_full=has_full(1)) == [Task("backup", 1, "full"), Task("drill", 1)]


# --------------------------------------------------------------------------- the lock


class CountingScheduler(Scheduler):
    """The real run() (lock, ticks, stop); run_due only counts its calls, so no
    pgBackRest is needed. `fail_first` makes the first call raise like a pgBackRest
    failure in has_full (`pgbackrest info` with an unreachable bucket) would."""

    def __init__(self, deployment: Deployment, *, fail_first: bool = False) -> None:
        super().__init__(deployment, tick_seconds=0.05)
        self.calls = 0
        self.called = threading.Event()
        self.fail_first = fail_first

    def run_due(self) -> list[Task]:
        self.calls += 1
        if self.calls >= 3:
            self.called.set()
        if self.fail_first and self.calls == 1:
            raise BackupError("pgbackrest info failed (exit 101): TLS error")
        return []


@pytest.fixture
def deployment(pg, db: str, tmp_path: Path) -> Deployment:
    return Deployment(Settings(env="test", home=tmp_path, db_name=db), pg.conninfo(WORKER_ROLE, db),
                      {WORKER_ROLE: pg.passwords[WORKER_ROLE]}, None)


def _lock_holders(pg, db: str) -> list[int]:
    """PIDs holding the scheduler's advisory lock in `db` (bigint keys: classid is the
    high half, objid the low one, objsubid 1)."""
    with psycopg.connect(pg.admin(db), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT l.pid FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND d.datname = %s"
            "   AND (l.classid::bigint << 32) | l.objid::bigint = %s", (db, SCHEDULER_LOCK_KEY)).fetchall()
    return [pid for (pid,) in rows]


@pytest.fixture
def started() -> Iterator[list[tuple[Scheduler, threading.Thread]]]:
    """Schedulers started in threads by a test; all stopped and joined afterwards."""
    running: list[tuple[Scheduler, threading.Thread]] = []
    try:
        yield running
    finally:
        for scheduler, _ in running:
            scheduler.stop()
        for _, thread in running:
            thread.join(30)
        assert not any(thread.is_alive() for _, thread in running)


def _start(scheduler: Scheduler, running: list[tuple[Scheduler, threading.Thread]]) -> threading.Thread:
    thread = threading.Thread(target=scheduler.run, name="test-scheduler", daemon=True)
    running.append((scheduler, thread))
    thread.start()
    return thread


def _wait_for_active(schedulers: list[CountingScheduler], timeout: float = 30) -> CountingScheduler:
    event = threading.Event()
    waiters = [threading.Thread(target=lambda s=s: s.active.wait(timeout) and event.set(), daemon=True)
               for s in schedulers]
    for waiter in waiters:
        waiter.start()
    assert event.wait(timeout), "no scheduler became active"
    return next(s for s in schedulers if s.active.is_set())


def test_only_one_scheduler_is_active(pg, db: str, deployment: Deployment, started) -> None:
    first, second = CountingScheduler(deployment), CountingScheduler(deployment)
    threads = {id(first): _start(first, started), id(second): _start(second, started)}

    active = _wait_for_active([first, second])
    waiting = second if active is first else first
    assert active.called.wait(30)  # it ran what is due at least three ticks in a row...
    assert not waiting.active.is_set()  # ...while the other kept trying the lock, in vain
    assert waiting.calls == 0
    assert len(_lock_holders(pg, db)) == 1

    # Stopping the active one frees the lock (its session ends): the other takes over.
    active.stop()
    threads[id(active)].join(30)
    assert not threads[id(active)].is_alive()
    assert not active.active.is_set()
    assert waiting.active.wait(30), "the waiting scheduler did not take over"
    assert waiting.called.wait(30)
    assert len(_lock_holders(pg, db)) == 1

    waiting.stop()
    threads[id(waiting)].join(30)
    assert not threads[id(waiting)].is_alive()
    assert not waiting.active.is_set()
    assert _lock_holders(pg, db) == []


def test_lock_held_elsewhere_keeps_the_scheduler_waiting(pg, db: str, deployment: Deployment, started) -> None:
    with psycopg.connect(pg.conninfo(WORKER_ROLE, db), autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_KEY,)).fetchone()[0]
        scheduler = CountingScheduler(deployment)
        _start(scheduler, started)
        # It keeps trying (a new session each tick) but never gets it while `other` holds it.
        for _ in range(3):
            assert not scheduler.active.wait(0.3)
        assert scheduler.calls == 0
        assert other.execute("SELECT pg_advisory_unlock(%s)", (SCHEDULER_LOCK_KEY,)).fetchone()[0]
    assert scheduler.active.wait(30)
    assert scheduler.called.wait(30)


def test_scheduler_survives_a_failing_tick(deployment: Deployment, started) -> None:
    scheduler = CountingScheduler(deployment, fail_first=True)
    thread = _start(scheduler, started)
    while not scheduler.called.wait(0.05) and thread.is_alive():
        pass
    assert scheduler.called.is_set(), f"run_due called {scheduler.calls} time(s); thread alive: {thread.is_alive()}"


def test_a_never_drilled_installation_is_drilled_after_its_first_full_backup(tmp_path: Path) -> None:
    s = settings(tmp_path, backup_drill_weekday=3)
    now = WEDNESDAY.replace(hour=9)
    # No full backup yet: the backup first, no drill of nothing.
    assert due_tasks(now, s, [], has_full=has_full()) == [Task("backup", 1, "full")]
    # The first full backup exists: the drill now, not on the next drill weekday.
    first = [run("backup", now - timedelta(minutes=2))]
    assert due_tasks(now, s, first, has_full=has_full(1)) == [Task("drill", 1)]
    # A first drill that failed was reported (an admin is notified, the audit fails F1);
    # the next try is the weekly one, not one per tick.
    failed = first + [run("drill", now - timedelta(minutes=5), status="failed", trigger="manual")]
    assert due_tasks(now, s, failed, has_full=has_full(1)) == []
    assert due_tasks(now + timedelta(hours=2), s, failed, has_full=has_full(1)) == []
    # Drilled once, whenever: back to the weekly rhythm.
    assert due_tasks(now, s, first + [DRILLED], has_full=has_full(1)) == []
