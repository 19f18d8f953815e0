"""Audit runs (public.audit_runs, migration 0021).

- `studio audit` records each run on its own studio_owner login (a plain psycopg
  connection; the caller commits), under the policies written for it;
- the latest run for an admin's ops page, in the admin's scope (audit_runs_admin_select).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from studio.db.scopes import UserScope


def record_run(conn: psycopg.Connection[Any], *, score: float, status: str, exit_code: int,
               report: dict[str, Any]) -> None:
    conn.execute("INSERT INTO public.audit_runs (score, status, exit_code, report) VALUES (%s, %s, %s, %s)",
                 (score, status, exit_code, Jsonb(report)))


def keep_latest_runs(conn: psycopg.Connection[Any], *, keep: int) -> int:
    """Deletes every run but the latest `keep`; how many it deleted."""
    cur = conn.execute(
        """
        DELETE FROM public.audit_runs
         WHERE id IN (SELECT r.id FROM public.audit_runs r ORDER BY r.created_at DESC, r.id OFFSET %s)
        """, (keep,))
    return cur.rowcount


async def latest_run(tx: UserScope) -> dict[str, Any] | None:
    """The latest stored run's report (what `studio audit --format json` printed), for an
    admin's scope; None when none is stored or the caller is not an admin."""
    cur = await tx.conn.execute(
        "SELECT r.report FROM public.audit_runs r ORDER BY r.created_at DESC LIMIT 1")
    row = await cur.fetchone()
    return row["report"] if row else None
