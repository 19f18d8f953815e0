"""backup_runs SQL, as studio_worker (the CLI and the scheduler record their runs with
the worker's role, under the policies written for it: a run can only be opened as
`running` and closed once)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def start_run(conn: psycopg.Connection[Any], *, kind: str, backup_type: str | None = None, repo: int = 1,
              trigger: str = "manual") -> UUID:
    row = conn.execute(
        "INSERT INTO public.backup_runs (kind, backup_type, repo, trigger) VALUES (%s, %s, %s, %s) RETURNING id",
        (kind, backup_type, repo, trigger)).fetchone()
    assert row is not None
    return row[0]


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
