#!/usr/bin/env python3
"""Backup benchmark: pgBackRest on a generated ~1 GB database, as Studio configures it.

    .venv/bin/python bench/backup_bench.py [--gigabytes 1.0] [--wal-gigabytes 1.0]

On a throwaway embedded cluster (fsync on, archiving to a local pgBackRest repository
with lz4, process-max 2) in a temporary directory:

1. Fill a table with incompressible data (random bytes, stored uncompressed) to the
   requested size.
2. Full backup: seconds, MB/s of database, size of the repository.
3. Restore of that backup into a new directory, plus start and promotion: seconds.
4. Point-in-time recovery: write about --wal-gigabytes of WAL after the backup, note a
   time T, restore to T: seconds for restore + replay + promotion, and the WAL replayed.
5. pg_dump --format=custom of the same database, for reference (the secondary export).

Writes bench/results/backup.json and bench/results/backup.md. Everything started here
is stopped and the cluster removed, also on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from studio.config import Settings  # noqa: E402
from studio.db.embedded import SUPERUSER, EmbeddedCluster  # noqa: E402
from studio.ops.backup import PgBackRest  # noqa: E402
from studio.ops.drill import wait_archived, wait_promoted  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ROW_BYTES = 1 << 20            # 1 MiB per row: few rows, all payload
GOALS = {"backup_mb_per_s": 150.0, "restore_seconds": 10.0, "pitr_seconds": 30.0}


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def fill(conninfo: str, table: str, total_bytes: int) -> int:
    """Random bytes through COPY; STORAGE EXTERNAL: TOAST stores them without trying to
    compress (random data would not compress anyway)."""
    name = sql.Identifier(table)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, payload bytea NOT NULL)")
                     .format(name))
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN payload SET STORAGE EXTERNAL").format(name))
        written = 0
        with conn.cursor().copy(sql.SQL("COPY {} (payload) FROM STDIN").format(name)) as copy:
            while written < total_bytes:
                copy.write_row((os.urandom(ROW_BYTES),))
                written += ROW_BYTES
        return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--wal-gigabytes", type=float, default=1.0)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="studio-backup-bench-"))
    os.chmod(tmp, 0o755)
    password = secrets.token_urlsafe(16)
    home = tmp / "home"
    settings = Settings(env="test", home=home)
    cluster = EmbeddedCluster(home, port=55_000 + os.getpid() % 5000)
    backrest = PgBackRest(settings, cluster, password)
    cluster.settings.update(backrest.server_settings())
    cluster.settings.update({"max_wal_size": "4GB"})  # fewer checkpoints while filling, as tuned servers do
    restored = EmbeddedCluster(tmp / "restored", port=cluster.port + 1, settings={"archive_mode": "off"})
    pitr = EmbeddedCluster(tmp / "pitr", port=cluster.port + 2, settings={"archive_mode": "off"})
    result: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                              "command": "bench/backup_bench.py " + " ".join(argv)}
    started = time.monotonic()
    try:
        cluster.init(password)
        cluster.start()
        backrest.ensure_stanza()
        conninfo = cluster.conninfo(SUPERUSER, password, "postgres")

        t = time.monotonic()
        fill(conninfo, "blob", int(args.gigabytes * 1024**3))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            # Settle the freshly loaded table first (hint bits, visibility map), as
            # autovacuum would soon after any bulk load: otherwise its vacuum rewrites
            # the table during the backup and the figure measures both.
            conn.execute("VACUUM (FREEZE, ANALYZE) blob")
            conn.execute("CHECKPOINT")
            db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            version = conn.execute("SELECT version()").fetchone()[0]
        result["database_bytes"] = db_bytes
        result["fill_seconds"] = round(time.monotonic() - t, 1)

        # pgBackRest's own run (what the goal is about), then Studio's whole call
        # (which adds two `pgbackrest info` for the before/after listing).
        t = time.monotonic()
        backrest.run("backup", "--type=full", "--repo=1")
        seconds = time.monotonic() - t
        t = time.monotonic()
        backup = backrest.backup("diff")
        studio_diff_seconds = time.monotonic() - t
        backup = next(b for b in backrest.backups(1) if b.type == "full")
        result["backup"] = {"seconds": round(seconds, 2), "mb_per_s": round(db_bytes / 1e6 / seconds, 1),
                            "label": backup.label, "repo_bytes": du(backrest.repo_path / "backup"),
                            "backup_reported_bytes": backup.database_bytes,
                            "diff_without_changes_seconds_through_studio": round(studio_diff_seconds, 2),
                            "process_max": os.environ.get("PGBACKREST_PROCESS_MAX", "2")}

        t = time.monotonic()
        backrest.restore(restored, label=backup.label)
        t_files = time.monotonic() - t
        restored.start(timeout=600)
        wait_promoted(restored, password, "postgres")
        result["restore"] = {"seconds": round(time.monotonic() - t, 2), "files_seconds": round(t_files, 2)}
        restored.stop(mode="immediate")

        # WAL after the backup: rewrite the data (random bytes again), then T, then more.
        with psycopg.connect(conninfo, autocommit=True) as conn:
            lsn_start = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        t = time.monotonic()
        fill(conninfo, "after_backup", int(args.wal_gigabytes * 1024**3))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE TABLE marker AS SELECT count(*) AS rows FROM after_backup")
            expected_rows = conn.execute("SELECT rows FROM marker").fetchone()[0]
            lsn_t = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            time.sleep(1.1)
            moment = dt.datetime.now(dt.UTC)
            time.sleep(1.1)
            conn.execute("INSERT INTO after_backup (payload) VALUES ('\\x00')")  # after T: must not come back
            wal_bytes = conn.execute("SELECT pg_wal_lsn_diff(%s, %s)", (lsn_t, lsn_start)).fetchone()[0]
        wait_archived(conninfo, str(lsn_t))
        result["wal_write_seconds"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        backrest.restore(pitr, to_time=moment, label=backup.label)
        t_files = time.monotonic() - t
        pitr.start(timeout=1800)
        wait_promoted(pitr, password, "postgres", timeout=1800)
        total = time.monotonic() - t
        with psycopg.connect(pitr.conninfo(SUPERUSER, password, "postgres")) as conn:
            rows = conn.execute("SELECT count(*) FROM after_backup").fetchone()[0]
        result["pitr"] = {"seconds": round(total, 2), "files_seconds": round(t_files, 2),
                          "replay_seconds": round(total - t_files, 2), "wal_bytes": int(wal_bytes),
                          "rows_as_of_t": rows, "rows_expected": expected_rows, "exact": rows == expected_rows}
        pitr.stop(mode="immediate")

        dump = tmp / "studio.dump"
        t = time.monotonic()
        pg_dump = next((str(c) for c in (cluster.bindir / "pg_dump", shutil.which("pg_dump"))
                        if c and Path(c).exists()), "pg_dump")
        subprocess.run([pg_dump, "--format=custom", f"--file={dump}",
                        "--table=blob", f"--dbname={conninfo}"], check=True, capture_output=True, timeout=3600)
        result["pg_dump"] = {"seconds": round(time.monotonic() - t, 1), "bytes": dump.stat().st_size}
        result["machine"] = {"nproc": os.cpu_count(), "kernel": platform.release(), "postgres": version,
                             "pgbackrest": subprocess.run(["pgbackrest", "version"], capture_output=True,
                                                          text=True).stdout.strip(),
                             "loadavg_start": os.getloadavg()}
    finally:
        for c in (pitr, restored, cluster):
            try:
                c.stop(mode="immediate")
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            shutil.rmtree(c.pg_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    result["total_seconds"] = round(time.monotonic() - started, 1)
    write(result)
    return 0


def write(r: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = os.environ.get("BACKUP_BENCH_RESULTS", "backup")
    (RESULTS / f"{name}.json").write_text(json.dumps(r, indent=2, default=str) + "\n")
    b, rs, p, d = r["backup"], r["restore"], r["pitr"], r["pg_dump"]
    mb = r["database_bytes"] / 1e6

    def goal(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = [
        "# Backup benchmark", "",
        f"Run {r['date']} with `.venv/bin/python {r['command'].strip()}` ({r['total_seconds']:.0f} s in all), "
        f"{r['machine']['nproc']} cores, {r['machine']['pgbackrest']}, fsync on, lz4, "
        f"process-max {r['backup']['process_max']}, "
        "local repository on the same disk.", "",
        f"Database: {mb:,.0f} MB of incompressible data (random bytes, filled in {r['fill_seconds']:.0f} s).", "",
        "| step | figure | goal | |", "|---|---:|---:|:---|",
        f"| full backup | {b['seconds']:.1f} s, **{b['mb_per_s']:,.0f} MB/s** | >= 150 MB/s | "
        f"{goal(b['mb_per_s'] >= GOALS['backup_mb_per_s'])} |",
        f"| repository size after it | {b['repo_bytes'] / 1e6:,.0f} MB | | |",
        f"| a differential backup right after it, through Studio (`backup create --type diff`) | "
        f"{b['diff_without_changes_seconds_through_studio']:.1f} s | | |",
        f"| restore of the base + start + promotion | **{rs['seconds']:.1f} s** (files {rs['files_seconds']:.1f} s) "
        f"| < 10 s | {goal(rs['seconds'] < GOALS['restore_seconds'])} |",
        f"| point-in-time recovery replaying {p['wal_bytes'] / 1e6:,.0f} MB of WAL | **{p['seconds']:.1f} s** "
        f"(files {p['files_seconds']:.1f} s, replay + promotion {p['replay_seconds']:.1f} s) | < 30 s | "
        f"{goal(p['seconds'] < GOALS['pitr_seconds'])} |",
        f"| PITR exact (rows as of T) | {p['rows_as_of_t']} of {p['rows_expected']}: "
        f"{'exact' if p['exact'] else 'WRONG'} | | |",
        f"| pg_dump --format=custom (reference) | {d['seconds']:.1f} s, {d['bytes'] / 1e6:,.0f} MB | | |",
        "", f"Machine: {r['machine']['postgres']}; kernel {r['machine']['kernel']}; load average at start "
        f"{r['machine']['loadavg_start']}.", "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
