"""Operations SQL, on plain psycopg connections.

- backup_runs, as studio_worker (the CLI and the scheduler record their runs with the
  worker's role, under the policies written for it: a run can only be opened as
  `running` and closed once), and the scheduler's lock;
- the restore drill's and the media check's statements, as the operator's superuser on
  the source cluster and on the restored copy (a backup-level task, like the restore);
- the latest runs for an admin's ops page, in the admin's scope (the admin policy on
  backup_runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from studio.db.connections import scalar
from studio.db.scopes import UserScope, WorkerScope


def start_run(conn: psycopg.Connection[Any], *, kind: str, backup_type: str | None = None, repo: int = 1,
              trigger: str = "manual") -> UUID:
    row = conn.execute(
        "INSERT INTO public.backup_runs (kind, backup_type, repo, trigger) VALUES (%s, %s, %s, %s) RETURNING id",
        (kind, backup_type, repo, trigger)).fetchone()
    assert row is not None
    run_id: UUID = row[0]
    return run_id


def finish_run(conn: psycopg.Connection[Any], run_id: UUID, *, ok: bool, label: str | None = None,
               details: dict[str, Any] | None = None, error: str | None = None) -> None:
    conn.execute(
        """
        UPDATE public.backup_runs
           SET status = %s, backup_label = COALESCE(%s, backup_label), details = %s, error = %s,
               finished_at = pg_catalog.now()
         WHERE id = %s
        """,
        ("succeeded" if ok else "failed", label, Jsonb(details or {}), error[:4000] if error else None, run_id))


def notify_admins(conn: psycopg.Connection[Any], *, title: str, body: str, data: dict[str, Any]) -> int:
    row = conn.execute("SELECT public.notify_admins(%s, %s, %s)", (title[:200], body[:2000], Jsonb(data))).fetchone()
    return int(row[0]) if row else 0


def recent_runs(conn: psycopg.Connection[Any], *, limit: int = 20) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, kind, backup_type, repo, status, backup_label, trigger, details, error, started_at,"
            "       finished_at FROM public.backup_runs ORDER BY started_at DESC LIMIT %s", (limit,))
        return cur.fetchall()


def backup_status(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("SELECT public.backup_status()").fetchone()
    return row[0] if row else {}


# The scheduler's lock, on a connection of its own as studio_worker (scheduler.py).

def try_advisory_lock(conn: psycopg.Connection[Any], *, key: int) -> bool:
    """A session-level advisory lock, held until released or the session ends."""
    return bool(scalar(conn, "SELECT pg_catalog.pg_try_advisory_lock(%s)", (key,)))


def ping(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT 1")


# The restore drill and the media check after a restore: the operator's superuser login
# on the source and on the restored copy (drill.py, media.py), plain connections.

def fix_text_output(conn: psycopg.Connection[Any]) -> None:
    """Session settings that row text (hence the drill's checksums) depends on, fixed
    the same on both sides."""
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    conn.execute("SET IntervalStyle = 'postgres'")
    conn.execute("SET extra_float_digits = 3")
    conn.execute("SET bytea_output = 'hex'")


def data_tables(conn: psycopg.Connection[Any], *, schemas: Sequence[str]) -> list[tuple[str, str]]:
    """(schema, name) of every ordinary or partitioned table in `schemas`, in order."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
        "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)"
        " ORDER BY 1, 2", (list(schemas),)).fetchall()
    return [(schema, name) for schema, name in rows]


def table_checksum(conn: psycopg.Connection[Any], *, schema: str, name: str) -> tuple[int, str]:
    """Row count and an order-independent checksum (the sum of each row's hash)."""
    query = sql.SQL(
        "SELECT count(*), COALESCE(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text"
        "  FROM {}.{} AS t").format(sql.Identifier(schema), sql.Identifier(name))
    row = conn.execute(query).fetchone()
    assert row is not None
    count, checksum = row
    return int(count), checksum


def begin_repeatable_read(conn: psycopg.Connection[Any], *, read_only: bool = False) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if read_only
                 else "BEGIN ISOLATION LEVEL REPEATABLE READ")


def set_lock_timeout(conn: psycopg.Connection[Any], *, timeout: str) -> None:
    """For the rest of the transaction (SET LOCAL)."""
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(timeout)))


def lock_tables_against_writes(conn: psycopg.Connection[Any], *, tables: Sequence[tuple[str, str]]) -> None:
    """SHARE mode until the transaction ends: readers go on, writers wait."""
    conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
        sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)))


def export_snapshot(conn: psycopg.Connection[Any]) -> str:
    return str(scalar(conn, "SELECT pg_catalog.pg_export_snapshot()"))


def import_snapshot(conn: psycopg.Connection[Any], *, snapshot: str) -> None:
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))


def create_restore_point(conn: psycopg.Connection[Any], *, name: str) -> str:
    """A named restore point in the WAL; its position (LSN) as text."""
    return str(scalar(conn, "SELECT pg_catalog.pg_create_restore_point(%s)::text", (name,)))


def wal_file_name(conn: psycopg.Connection[Any], *, lsn: str) -> str:
    return str(scalar(conn, "SELECT pg_catalog.pg_walfile_name(%s::pg_lsn)", (lsn,)))


def switch_wal(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_catalog.pg_switch_wal()")


def archiver_status(conn: psycopg.Connection[Any]) -> tuple[str | None, str | None]:
    """(last archived, last failed) WAL file names."""
    row = conn.execute("SELECT last_archived_wal, last_failed_wal FROM pg_catalog.pg_stat_archiver").fetchone()
    assert row is not None
    archived, failed = row
    return archived, failed


def in_recovery(conn: psycopg.Connection[Any]) -> bool:
    return bool(scalar(conn, "SELECT pg_catalog.pg_is_in_recovery()"))


def media_files(conn: psycopg.Connection[Any]) -> list[tuple[str, str, int]]:
    """(bucket, key, size) of every media row, in order."""
    return [(b, k, int(s)) for b, k, s in conn.execute(
        "SELECT bucket, key, size_bytes FROM public.media_objects ORDER BY bucket, key").fetchall()]


async def apply_retention(tx: WorkerScope, *, share_days: int, upload_days: int) -> dict[str, int]:
    """Ended shares and unused uploads (public.apply_retention, migration 0015)."""
    cur = await tx.conn.execute("SELECT public.apply_retention(%s, %s) AS done", (share_days, upload_days))
    row = await cur.fetchone()
    return {k: int(v) for k, v in (row["done"] if row else {}).items()}


async def last_runs(tx: UserScope) -> dict[str, dict[str, Any] | None]:
    """The latest backup and the latest restore drill (running ones included), for an
    admin's scope (backup_runs_admin_select): {"backup": row or None, "drill": ...}.
    One index probe per kind (backup_runs_kind_started_idx)."""
    cur = await tx.conn.execute(
        """
        SELECT k.kind, r.id, r.status, r.backup_type, r.repo, r.trigger, r.backup_label, r.error,
               r.started_at, r.finished_at,
               pg_catalog.date_part('epoch', r.finished_at - r.started_at) AS duration_seconds
          FROM (VALUES ('backup'), ('drill')) AS k (kind)
          LEFT JOIN LATERAL (
                SELECT b.id, b.status, b.backup_type, b.repo, b.trigger, b.backup_label, b.error,
                       b.started_at, b.finished_at
                  FROM public.backup_runs b
                 WHERE b.kind = k.kind
                 ORDER BY b.started_at DESC
                 LIMIT 1) r ON true
        """)
    runs: dict[str, dict[str, Any] | None] = {}
    for row in await cur.fetchall():
        kind = row.pop("kind")
        runs[kind] = row if row["id"] is not None else None
    return runs
