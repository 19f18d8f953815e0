"""Physical backups of the embedded cluster with pgBackRest (F1).

pgBackRest does the work: continuous WAL archiving (`archive_command`), full and
differential base backups compressed with lz4, retention, `verify`, and restores to
any moment of the archive. Studio writes its configuration, runs it as the server's
OS user (it must read the data directory), and reads its JSON output.

- Repository 1 is local (`STUDIO_BACKUP_REPO_PATH`, by default next to the cluster).
- Repository 2, when `STUDIO_BACKUP_S3_BUCKET` is set, is any S3-compatible bucket,
  always encrypted (aes-256-cbc, `STUDIO_BACKUP_CIPHER_PASS`). WAL goes to both.
- pgBackRest connects as the cluster's superuser: backups need it. Only the CLI
  (`studio backup ...`) and the scheduler use it, never the API or the workers (F4).

Why pgBackRest and not pg_basebackup + our own archive: docs/decisions/0006-backups.md.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from studio.config import Settings
from studio.db.embedded import SUPERUSER, EmbeddedCluster

log = logging.getLogger("studio.backup")

STANZA = "studio"
BackupType = Literal["full", "diff", "incr"]


class BackupError(RuntimeError):
    """pgBackRest failed or is missing; the message has its own words."""


def pgbackrest_binary() -> str:
    found = shutil.which("pgbackrest") or next(
        (p for p in ("/usr/bin/pgbackrest", "/usr/local/bin/pgbackrest") if Path(p).exists()), None)
    if found is None:
        raise BackupError("pgBackRest is not installed: install the `pgbackrest` package "
                          "(apt-get install pgbackrest), or set STUDIO_BACKUP_ENABLED=false")
    return found


@dataclass(frozen=True)
class BackupSet:
    """One base backup in a repository, as `pgbackrest info` describes it."""

    label: str
    type: str                 # full, diff, incr
    repo: int
    started_at: datetime
    stopped_at: datetime
    database_bytes: int       # size of the cluster backed up
    repo_bytes: int           # what it takes in the repository (compressed, this backup only)
    wal_start: str
    wal_stop: str
    prior: str | None         # the backup a diff/incr builds on

    @classmethod
    def from_info(cls, item: dict[str, Any]) -> BackupSet:
        timestamp, info = item["timestamp"], item["info"]
        return cls(label=item["label"], type=item["type"], repo=int(item["database"]["repo-key"]),
                   started_at=datetime.fromtimestamp(timestamp["start"], UTC),
                   stopped_at=datetime.fromtimestamp(timestamp["stop"], UTC),
                   database_bytes=int(info["size"]), repo_bytes=int(info["repository"]["delta"]),
                   wal_start=item["archive"]["start"], wal_stop=item["archive"]["stop"],
                   prior=item.get("prior"))


class PgBackRest:
    """pgBackRest for one embedded cluster: its configuration and its commands."""

    def __init__(self, settings: Settings, cluster: EmbeddedCluster, superuser_password: str) -> None:
        self.settings = settings
        self.cluster = cluster
        self._password = superuser_password

    # ------------------------------------------------------------------ locations

    @property
    def config_dir(self) -> Path:
        return self.cluster.pg_dir / "pgbackrest"

    @property
    def config_path(self) -> Path:
        return self.config_dir / "pgbackrest.conf"

    @property
    def repo_path(self) -> Path:
        return (self.settings.backup_repo_path or self.cluster.pg_dir / "backups").expanduser().resolve()

    @property
    def repos(self) -> list[int]:
        return [1, 2] if self.settings.backup_s3_bucket else [1]

    # ------------------------------------------------------------------ configuration

    def server_settings(self) -> dict[str, str]:
        """What the cluster needs for continuous archiving. archive_timeout forces a
        segment switch at least that often on a quiet server: the RPO (F1). Without
        pgBackRest installed the command fails (and PostgreSQL keeps the WAL and
        retries); ensure_stanza() reports it clearly."""
        binary = shutil.which("pgbackrest") or "pgbackrest"
        command = f"{binary} --config={self.config_path} --stanza={STANZA} archive-push %p"
        return {"archive_mode": "on", "archive_command": command,
                "archive_timeout": f"{self.settings.backup_archive_timeout}s", "wal_level": "replica"}

    def config_text(self) -> str:
        s = self.settings
        lines = ["# Written by Studio from its settings; edits here are overwritten.", "[global]",
                 f"repo1-path={self.repo_path}",
                 "repo1-retention-full-type=count",
                 f"repo1-retention-full={s.backup_retention_full}",
                 f"repo1-retention-diff={s.backup_retention_diff}"]
        if s.backup_s3_bucket:
            if s.backup_cipher_pass is None:
                raise BackupError("STUDIO_BACKUP_S3_BUCKET is set but STUDIO_BACKUP_CIPHER_PASS is not: "
                                  "the offsite repository is always encrypted")
            host, _, port = s.backup_s3_endpoint.partition(":")
            lines += ["repo2-type=s3", f"repo2-s3-bucket={s.backup_s3_bucket}", f"repo2-s3-endpoint={host}",
                      f"repo2-s3-region={s.backup_s3_region}", f"repo2-path={s.backup_s3_path}",
                      f"repo2-s3-uri-style={s.backup_s3_uri_style}",
                      f"repo2-storage-verify-tls={'y' if s.backup_s3_verify_tls else 'n'}",
                      "repo2-cipher-type=aes-256-cbc",
                      f"repo2-cipher-pass={s.backup_cipher_pass.get_secret_value()}",
                      "repo2-retention-full-type=count",
                      f"repo2-retention-full={s.backup_retention_full}",
                      f"repo2-retention-diff={s.backup_retention_diff}"]
            if port:
                lines.append(f"repo2-storage-port={port}")
            if s.backup_s3_ca_file:
                lines.append(f"repo2-storage-ca-file={Path(s.backup_s3_ca_file).resolve()}")
            if s.backup_s3_access_key_id and s.backup_s3_secret_access_key:
                lines += [f"repo2-s3-key={s.backup_s3_access_key_id.get_secret_value()}",
                          f"repo2-s3-key-secret={s.backup_s3_secret_access_key.get_secret_value()}"]
            else:
                lines.append("repo2-s3-key-type=auto")  # an instance role
        lines += ["compress-type=lz4", "process-max=2", "start-fast=y",
                  f"log-path={self.config_dir / 'log'}", f"lock-path={self.config_dir / 'lock'}",
                  f"spool-path={self.config_dir / 'spool'}",
                  "log-level-console=warn", "log-level-file=info",
                  "", f"[{STANZA}]",
                  f"pg1-path={self.cluster.data_dir}",
                  f"pg1-port={self.cluster.port}",
                  f"pg1-socket-path={self.cluster.socket_dir}",
                  f"pg1-user={SUPERUSER}", ""]
        return "\n".join(lines)

    def write_config(self) -> None:
        """Mode 0600, owned by the server user: it may hold the S3 keys and the cipher
        passphrase. The repository directory must exist before archive-push runs."""
        for directory in (self.config_dir, self.config_dir / "log", self.config_dir / "lock",
                          self.config_dir / "spool"):
            self.cluster.private_dir(directory)
        self.cluster.private_dir(self.repo_path)
        self.cluster.write_private_file(self.config_path, self.config_text())

    # ------------------------------------------------------------------ commands

    def run(self, command: str, *options: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        args = [pgbackrest_binary(), f"--config={self.config_path}", f"--stanza={STANZA}", *options, command]
        # pgBackRest's own PGBACKREST_* options pass through (the server user's
        # environment drops PG* variables otherwise).
        env = {k: v for k, v in os.environ.items() if k.startswith("PGBACKREST_")}
        env["PGPASSWORD"] = self._password
        result = self.cluster.run_as_server(args, timeout=timeout, env=env, cwd=self.cluster.pg_dir)
        if result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise BackupError(f"pgbackrest {command} failed (exit {result.returncode}): " + "\n".join(output[-15:]))
        return result

    def ensure_stanza(self) -> None:
        """Create the stanza in every repository unless it exists (idempotent; the
        cluster must be running with server_settings() applied)."""
        self.write_config()
        # The marker holds the repositories' configuration the stanza was created for:
        # a new bucket (or a lost local repository) means creating it again.
        marker = self.config_dir / "stanza.created"
        repos = self._repositories_fingerprint()
        local_ok = (self.repo_path / "backup" / STANZA / "backup.info").exists()
        if local_ok and marker.exists() and marker.read_text() == repos:
            return
        self._waiting_for_lock("stanza-create", timeout=300, wait_seconds=3600)
        self.cluster.write_private_file(marker, repos)
        log.info("pgBackRest stanza %r ready in %d repositor%s", STANZA, len(self.repos),
                 "y" if len(self.repos) == 1 else "ies")

    def _repositories_fingerprint(self) -> str:
        s = self.settings
        return "\n".join([str(self.repo_path), s.backup_s3_bucket or "", s.backup_s3_endpoint, s.backup_s3_path])

    def _waiting_for_lock(self, command: str, *options: str, timeout: float, wait_seconds: float) -> None:
        """Run a command that takes the stanza's lock (one backup, stanza-create, ...
        at a time), waiting while another holds it (the scheduler's backup)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                self.run(command, *options, timeout=timeout)
                return
            except BackupError as exc:
                if "unable to acquire lock" not in str(exc) or time.monotonic() > deadline:
                    raise
                log.info("another pgBackRest command holds the lock; waiting")
                time.sleep(1.0)

    def check(self) -> None:
        """Archiving works end to end: forces a WAL switch and waits for the segment to
        reach every repository."""
        self.run("check", timeout=300)

    def backup(self, type: BackupType = "full", repo: int = 1, *, wait_seconds: float = 6 * 3600) -> BackupSet:
        """One backup at a time per stanza (pgBackRest's lock): one asked for while
        another runs (the scheduler's) waits for it, up to `wait_seconds`."""
        before = {b.label for b in self.backups(repo)}
        self._waiting_for_lock("backup", f"--type={type}", f"--repo={repo}", timeout=6 * 3600,
                               wait_seconds=wait_seconds)
        created = [b for b in self.backups(repo) if b.label not in before]
        if not created:
            raise BackupError("pgbackrest backup finished but no new backup is listed")
        return created[-1]

    def info(self) -> dict[str, Any]:
        result = self.run("info", "--output=json", timeout=300)
        stanzas = json.loads(result.stdout or "[]")
        return next((s for s in stanzas if s.get("name") == STANZA), {})

    def backups(self, repo: int | None = None) -> list[BackupSet]:
        """Oldest first."""
        sets = [BackupSet.from_info(item) for item in self.info().get("backup", [])]
        return [b for b in sets if repo is None or b.repo == repo]

    def verify(self, repo: int = 1) -> None:
        """pgbackrest verify: every file of every backup and every archived WAL segment
        against the checksums in the manifests. Raises BackupError when anything is
        missing or corrupt."""
        result = self.run("verify", f"--repo={repo}", "--verbose", "--log-level-console=info", timeout=6 * 3600)
        problems = [line for line in result.stdout.splitlines()
                    if "invalid" in line.lower() and not line.rstrip().endswith(": 0")
                    or "missing" in line.lower() and not line.rstrip().endswith(": 0")]
        if problems:
            raise BackupError("pgbackrest verify found problems:\n" + "\n".join(problems[-15:]))

    def restore(self, target: EmbeddedCluster, *, to_time: datetime | None = None, to_point: str | None = None,
                label: str | None = None, repo: int = 1, archiving: bool = False,
                timeout: float = 6 * 3600) -> None:
        """Restore into `target`'s data directory, which must be empty or absent (a new
        directory never touches the running cluster). With `to_time`, recovery replays
        WAL up to that moment and then promotes; with `to_point`, up to that named
        restore point (pg_create_restore_point); otherwise to the end of the archive.
        A copy (`archiving=False`) never archives into the source's repository; only a
        restore that replaces the installation's own cluster keeps archiving on."""
        data = target.data_dir
        if data.exists() and any(data.iterdir()):
            raise BackupError(f"{data} is not empty; restore into a new directory")
        target.private_dir(target.pg_dir)
        target.private_dir(data)
        options = [f"--pg1-path={data}", f"--repo={repo}"]
        if to_time is not None and to_point is not None:
            raise ValueError("a restore has one target: a time or a restore point")
        # With a target, promote once it is reached (the default would pause); without
        # one, recovery runs to the end of the archive and promotes by itself.
        if to_time is not None:
            options += ["--type=time", f"--target={_pg_timestamp(to_time)}", "--target-action=promote"]
        if to_point is not None:
            options += ["--type=name", f"--target={to_point}", "--target-action=promote"]
        if label is not None:
            options.append(f"--set={label}")
        if not archiving:
            options.append("--archive-mode=off")
        self.run("restore", *options, timeout=timeout)


def _pg_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("the recovery target time needs a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def logical_dump(conninfo: str, file: Path, *, bindir: Path | None = None, timeout: float = 6 * 3600) -> int:
    """pg_dump --format=custom: the secondary, logical export (portable across major
    versions; slower than pgBackRest and without point-in-time recovery). Needs a
    superuser or BYPASSRLS login: with FORCE ROW LEVEL SECURITY even the tables'
    owner would dump only what the policies let it see, so pg_dump refuses. Returns
    the size of the file."""
    candidates = [bindir / "pg_dump" if bindir else None, shutil.which("pg_dump")]
    pg_dump = next((str(c) for c in candidates if c and Path(c).exists()), None)
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (Debian/Ubuntu: apt-get install postgresql-client)")
    file.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([pg_dump, "--format=custom", "--no-password", f"--file={file}",
                             f"--dbname={conninfo}"], capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        file.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    return file.stat().st_size
