"""Backups, verifies, drills and restores as the CLI and the scheduler run them: each
one recorded in backup_runs (as studio_worker), a failure notifying every admin."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from studio.config import WORKER_ROLE, Settings
from studio.db.embedded import SUPERUSER, EmbeddedCluster
from studio.launcher import instance
from studio.launcher.deployment import (
    Deployment,
    LauncherError,
    backed_up_cluster,
    load_or_create_secrets,
    secrets_path,
)
from studio.ops import repository as repo
from studio.ops.backup import BackupError, BackupSet, BackupType, PgBackRest
from studio.ops.drill import DrillFailed, DrillResult, run_drill, wait_promoted
from studio.ops.media import MediaReport, bring_back, referenced_files
from studio.storage.base import Storage
from studio.storage.factory import create_storage
from studio.storage.local import LocalStorage

log = logging.getLogger("studio.ops")

Progress = Callable[[str], None]


def _quiet(step: str) -> None:
    log.info("%s", step)


def backrest_of(deployment: Deployment) -> PgBackRest:
    if deployment.backrest is None:
        raise LauncherError("backups are managed by Studio for its embedded cluster with STUDIO_BACKUP_ENABLED=true; "
                            "for an external cluster see docs/operations/backup-and-restore.md")
    return deployment.backrest


@contextmanager
def recorded(deployment: Deployment, kind: str, *, backup_type: str | None = None, repo_key: int = 1,
             trigger: str = "manual") -> Iterator[dict[str, Any]]:
    """Opens a backup_runs record, yields a dict the block fills in (details, label),
    and closes the record as succeeded, or as failed with the error (notifying admins)
    when the block raises."""
    with psycopg.connect(deployment.conninfo(WORKER_ROLE), autocommit=True) as conn:
        run_id = repo.start_run(conn, kind=kind, backup_type=backup_type, repo=repo_key, trigger=trigger)
        record: dict[str, Any] = {"details": {}, "label": None}
        try:
            yield record
        except BaseException as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            repo.finish_run(conn, run_id, ok=False, label=record["label"], details=record["details"], error=message)
            repo.notify_admins(conn, title=f"Backup {kind} failed", body=message[:2000],
                               data={"run_id": str(run_id), "kind": kind})
            raise
        repo.finish_run(conn, run_id, ok=True, label=record["label"], details=record["details"])


def create_backup(deployment: Deployment, *, type: BackupType = "full", repo_key: int = 1,
                  trigger: str = "manual") -> BackupSet:
    backrest = backrest_of(deployment)
    with recorded(deployment, "backup", backup_type=type, repo_key=repo_key, trigger=trigger) as record:
        started = time.monotonic()
        backup = backrest.backup(type, repo_key)
        seconds = time.monotonic() - started
        record["label"] = backup.label
        record["details"] = {"seconds": round(seconds, 2), "database_bytes": backup.database_bytes,
                             "repo_bytes": backup.repo_bytes, "wal_start": backup.wal_start,
                             "wal_stop": backup.wal_stop, "prior": backup.prior}
    return backup


def verify(deployment: Deployment, *, repo_key: int = 1, trigger: str = "manual") -> None:
    backrest = backrest_of(deployment)
    with recorded(deployment, "verify", repo_key=repo_key, trigger=trigger) as record:
        started = time.monotonic()
        sets = backrest.backups(repo_key)
        if not sets:
            raise BackupError(f"repository {repo_key} holds no backup")
        backrest.verify(repo_key)
        record["details"] = {"backups": len(sets), "seconds": round(time.monotonic() - started, 2)}
        record["label"] = sets[-1].label


def drill(deployment: Deployment, *, repo_key: int = 1, trigger: str = "manual",
          progress: Progress = _quiet) -> DrillResult:
    backrest = backrest_of(deployment)
    password = _superuser_password(deployment)
    with recorded(deployment, "drill", repo_key=repo_key, trigger=trigger) as record:
        result = run_drill(backrest, password=password, dbname=deployment.settings.db_name,
                           scratch=backrest.cluster.pg_dir / "drill", repo=repo_key, progress=progress)
        record["label"] = result.backup_label
        record["details"] = result.as_details()
        if not result.ok:
            raise DrillFailed(f"the restored copy differs from the source: {'; '.join(result.mismatches[:5])}")
    return result


def restore_copy(deployment: Deployment, target_home: Path, *, to_time: datetime | None = None,
                 label: str | None = None, repo_key: int = 1, progress: Progress = _quiet) -> EmbeddedCluster:
    """Restore into a new Studio home (never touching the running cluster): its
    cluster, recovered and promoted, then stopped, plus the secrets its roles need.
    `STUDIO_HOME=<target_home> studio up` then runs Studio on the restored data."""
    backrest = backrest_of(deployment)
    if target_home.exists() and any(target_home.iterdir()):
        raise BackupError(f"{target_home} is not empty; restore into a new directory")
    target = EmbeddedCluster(target_home, bindir=backrest.cluster.bindir, settings={"archive_mode": "off"})
    progress(f"restoring into {target.data_dir}")
    backrest.restore(target, to_time=to_time, label=label, repo=repo_key)
    # The restored cluster must not archive into this installation's repository.
    progress("replaying WAL" + (f" up to {to_time.isoformat()}" if to_time else ""))
    target.start(timeout=3600)
    try:
        wait_promoted(target, _superuser_password(deployment), deployment.settings.db_name)
    finally:
        target.stop()
    _let_archiving_follow_studio(target)
    source_secrets = secrets_path(deployment.settings)
    if source_secrets.exists():
        shutil.copy2(source_secrets, target_home / "secrets.env")
    progress("bringing back the media files the restored rows point at")
    report = _restore_media(deployment.settings, target, _superuser_password(deployment), target_home)
    progress(f"media: {report.summary()}")
    if not report.consistent:
        raise BackupError(f"the restored database points at files that are gone: {report.summary()}")
    return target


def _let_archiving_follow_studio(cluster: EmbeddedCluster) -> None:
    """pgBackRest wrote archive_mode=off into postgresql.auto.conf, which would win over
    Studio's own settings forever. Studio's conf.d already keeps archiving off until
    `studio up` runs on the new home, which then archives into that home's repository."""
    auto = cluster.data_dir / "postgresql.auto.conf"
    if auto.exists():
        lines = [line for line in auto.read_text().splitlines(keepends=True)
                 if not line.strip().startswith("archive_mode")]
        cluster.write_private_file(auto, "".join(lines))


def _restore_media(settings: Settings, restored: EmbeddedCluster, password: str,
                   new_home: Path | None) -> MediaReport:
    """Every file the restored rows point at, made present (revived in place, or copied
    into a new home's local storage). The restored cluster is started for the read."""
    started = not restored.is_running()
    if started:
        restored.start(timeout=3600)
    try:
        files = referenced_files(restored.conninfo(SUPERUSER, password, settings.db_name))
    finally:
        if started:
            restored.stop()
    source = create_storage(settings)
    target = None
    if new_home is not None and isinstance(source, LocalStorage):
        target = LocalStorage(new_home / "storage")
    return asyncio.run(_bring_back(files, source, target))


async def _bring_back(files: list[tuple[str, str, int]], source: Storage, target: LocalStorage | None) -> MediaReport:
    try:
        return await bring_back(files, source, target)
    finally:
        await source.aclose()


def _superuser_password(deployment: Deployment) -> str:
    password = deployment.superuser_password
    if not password:
        raise LauncherError("the superuser password is needed for backups (STUDIO_SUPERUSER_PASSWORD)")
    return password


def recent_runs(deployment: Deployment, limit: int = 20) -> list[dict[str, Any]]:
    with psycopg.connect(deployment.conninfo(WORKER_ROLE), autocommit=True) as conn:
        return repo.recent_runs(conn, limit=limit)


def up_pid_file(settings: Settings) -> Path:
    """Locked and written by `studio up` while it runs, so an in-place restore can stop it."""
    return instance.lock_path(settings.home_dir)


def _running_up(settings: Settings) -> int | None:
    pid = instance.running_pid(settings.home_dir)
    return pid if pid is not None and pid > 0 else None


def _stop_up(pid: int, timeout: float = 120) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.2)
    raise LauncherError(f"`studio up` (pid {pid}) did not stop within {timeout:.0f}s; stop it and retry")


def restore_in_place(settings: Settings, *, to_time: datetime | None = None, label: str | None = None,
                     repo_key: int = 1, progress: Progress = _quiet) -> Path | None:
    """Replace the installation's own cluster with a restore: stop Studio (a running
    `studio up`) and the cluster, keep the old data directory aside, restore, start the
    cluster and wait until recovery has finished and it was promoted (pg_ctl returns
    while the server is still recovering), then bring Studio back if it was running.
    Returns where the previous data directory was kept (None if there was none)."""
    if not settings.embedded or not settings.backup_enabled:
        raise LauncherError("an in-place restore is for the embedded cluster with backups enabled")
    password = load_or_create_secrets(settings)["STUDIO_SUPERUSER_PASSWORD"]
    cluster, backrest = backed_up_cluster(settings, password)
    assert backrest is not None
    backrest.write_config()
    if not backrest.backups(repo_key):
        raise BackupError(f"repository {repo_key} holds no backup to restore")
    up_pid = _running_up(settings)
    if up_pid is not None:
        progress(f"stopping Studio (pid {up_pid})")
        _stop_up(up_pid)
    progress("stopping the database")
    cluster.stop()
    kept: Path | None = None
    if cluster.data_dir.exists():  # absent when the disk or the cluster was lost
        kept = cluster.data_dir.with_name(f"data.before-restore-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}")
        cluster.data_dir.rename(kept)
    progress(f"restoring from repository {repo_key}" + (f" to {to_time.isoformat()}" if to_time else ""))
    backrest.restore(cluster, to_time=to_time, label=label, repo=repo_key, archiving=True)
    progress("replaying WAL until recovery has finished")
    cluster.start(timeout=3600)
    try:
        wait_promoted(cluster, password, settings.db_name)
        # Archiving goes on from the new timeline: the stanza must exist in every
        # repository (a new machine's local one is empty).
        backrest.ensure_stanza()
        progress("reviving the media files the restored rows point at")
        report = _restore_media(settings, cluster, password, None)
        progress(f"media: {report.summary()}")
    finally:
        cluster.stop()
    if not report.consistent:
        log.error("after the restore, rows point at files that are gone: %s", report.summary())
    if up_pid is not None:
        progress("starting Studio again")
        log_path = settings.home_dir / "studio-up.log"
        with log_path.open("ab") as out:
            subprocess.Popen([sys.executable, "-m", "studio", "up"], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    return kept
