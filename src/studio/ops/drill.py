"""The restore drill: proof, without anybody looking, that the backups restore (F1).

1. Mark a point on the source: in one transaction, lock every table against writes
   (SHARE mode: readers go on; writers wait a few milliseconds), export the snapshot,
   and write a named restore point into the WAL. A second transaction imports the
   snapshot, and the locks go. That snapshot and the restore point hold exactly the
   same committed rows, so the source's checksums "at the backup's point" can be
   computed afterwards, at leisure, from the imported snapshot.
2. Restore the latest backup into a scratch directory, replaying the archived WAL up
   to the restore point, start it on a private socket, and wait until it has left
   recovery (pg_ctl returns while the server is still replaying).
3. Compare row counts and per-table checksums; remove the scratch cluster.

A corrupt or missing backup file or WAL segment fails step 2 (pgBackRest checks every
file against its manifest checksum while restoring): the drill reports failure.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from studio.db.embedded import SUPERUSER, EmbeddedCluster
from studio.ops import repository
from studio.ops.backup import BackupError, PgBackRest

log = logging.getLogger("studio.drill")

# Schemas holding Studio's data (pg_catalog and friends are the server's own).
DATA_SCHEMAS = ("public", "auth")
LOCK_TIMEOUT = "5s"
PROMOTION_TIMEOUT = 600.0


class DrillFailed(RuntimeError):
    """The backup did not restore, or restored something else than the source held."""


@dataclass
class TableCheck:
    rows: int
    checksum: str


@dataclass
class DrillResult:
    backup_label: str
    restore_point: str
    tables: int
    rows: int
    seconds: dict[str, float] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_details(self) -> dict[str, object]:
        return {"backup_label": self.backup_label, "restore_point": self.restore_point, "tables": self.tables,
                "rows": self.rows, "seconds": self.seconds, "mismatches": self.mismatches[:50]}


def table_checks(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> dict[str, TableCheck]:
    """Row count and an order-independent checksum (the sum of each row's hash) per table."""
    checks = {}
    for schema, name in tables:
        count, checksum = repository.table_checksum(conn, schema=schema, name=name)
        checks[f"{schema}.{name}"] = TableCheck(count, checksum)
    return checks


def mark_restore_point(conninfo: str, name: str) -> tuple[dict[str, TableCheck], str]:
    """Checksums of every data table exactly as of the restore point `name`, and the
    WAL position of that point."""
    with psycopg.connect(conninfo) as marker, psycopg.connect(conninfo) as reader:
        repository.fix_text_output(reader)
        reader.commit()
        repository.begin_repeatable_read(marker)
        repository.set_lock_timeout(marker, timeout=LOCK_TIMEOUT)
        tables = repository.data_tables(marker, schemas=DATA_SCHEMAS)
        repository.lock_tables_against_writes(marker, tables=tables)
        snapshot = repository.export_snapshot(marker)
        lsn = repository.create_restore_point(marker, name=name)
        repository.begin_repeatable_read(reader, read_only=True)
        repository.import_snapshot(reader, snapshot=snapshot)
        marker.commit()  # writers go on; the reader keeps the snapshot
        checks = table_checks(reader, tables)
        reader.commit()
    return checks, lsn


def wait_archived(conninfo: str, lsn: str, timeout: float = 300) -> None:
    """Switch to a new WAL segment and wait until the one holding `lsn` is archived."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        segment = repository.wal_file_name(conn, lsn=lsn)
        repository.switch_wal(conn)
        deadline = time.monotonic() + timeout
        while True:
            archived, failed = repository.archiver_status(conn)
            if archived is not None and archived[8:] >= segment[8:]:  # same timeline or later segment
                return
            if time.monotonic() > deadline:
                raise BackupError(f"WAL segment {segment} was not archived within {timeout:.0f}s"
                                  f" (last archived {archived}, last failed {failed})")
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_promoted(cluster: EmbeddedCluster, password: str, dbname: str, timeout: float = PROMOTION_TIMEOUT) -> None:
    """pg_ctl start returns once the server accepts connections, which a server in
    recovery already does: wait until recovery has finished and it was promoted."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(cluster.conninfo(SUPERUSER, password, dbname), autocommit=True) as conn:
        while repository.in_recovery(conn):
            if time.monotonic() > deadline:
                raise DrillFailed(f"the restored cluster was still recovering after {timeout:.0f}s")
            time.sleep(0.1)


def run_drill(backrest: PgBackRest, *, password: str, dbname: str, scratch: Path, repo: int = 1,
              progress: Callable[[str], None] = lambda step: None) -> DrillResult:
    """Restore the latest backup of `repo` into `scratch` (created, then removed) and
    compare it with the source at a restore point marked now."""
    sets = backrest.backups(repo)
    if not sets:
        raise DrillFailed(f"repository {repo} holds no backup to drill")
    latest = sets[-1]
    source = backrest.cluster.conninfo(SUPERUSER, password, dbname)
    name = f"studio-drill-{uuid.uuid4().hex[:12]}"
    result = DrillResult(latest.label, name, 0, 0)
    started = time.monotonic()

    progress("marking a restore point on the source")
    expected, lsn = mark_restore_point(source, name)
    wait_archived(source, lsn)
    result.seconds["mark"] = round(time.monotonic() - started, 2)

    if scratch.exists():
        shutil.rmtree(scratch)
    target = EmbeddedCluster(scratch, port=_free_port(), bindir=backrest.cluster.bindir,
                             settings={"archive_mode": "off"})
    try:
        progress(f"restoring backup {latest.label} from repository {repo}")
        step = time.monotonic()
        backrest.restore(target, to_point=name, label=latest.label, repo=repo)
        result.seconds["restore"] = round(time.monotonic() - step, 2)

        progress("replaying WAL up to the restore point")
        step = time.monotonic()
        target.start(timeout=PROMOTION_TIMEOUT)
        wait_promoted(target, password, dbname)
        result.seconds["recovery"] = round(time.monotonic() - step, 2)

        progress("comparing every table")
        with psycopg.connect(target.conninfo(SUPERUSER, password, dbname)) as restored:
            repository.fix_text_output(restored)
            actual = table_checks(restored, repository.data_tables(restored, schemas=DATA_SCHEMAS))
        for table in sorted(expected.keys() | actual.keys()):
            want, got = expected.get(table), actual.get(table)
            if want != got:
                result.mismatches.append(f"{table}: source {want} restored {got}")
        result.tables = len(expected)
        result.rows = sum(check.rows for check in expected.values())
    finally:
        try:
            target.stop(mode="immediate")
        finally:
            shutil.rmtree(target.pg_dir, ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)
    result.seconds["total"] = round(time.monotonic() - started, 2)
    return result
