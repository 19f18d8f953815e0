"""Monitoring SQL: the metrics snapshot (anon scope), the top statements for admins (a
user's scope), and the same statements read directly by an operator's superuser or
admin login (`studio db top`)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from studio.db.scopes import AnonScope, UserScope

ORDERS = ("total_time", "mean_time", "calls")
# pg_stat_statements' column for each order (constants: composed as identifiers).
_ORDER_COLUMNS = {"total_time": "total_exec_time", "mean_time": "mean_exec_time", "calls": "calls"}
MAX_LIMIT = 100


class StatementsUnavailable(RuntimeError):
    """pg_stat_statements is not installed in Studio's database, or its library is not
    preloaded (shared_preload_libraries)."""


async def metrics_snapshot(tx: AnonScope) -> dict[str, Any]:
    # A scrape must not hang on a stuck database longer than Prometheus waits for it.
    await tx.conn.execute("SELECT pg_catalog.set_config('statement_timeout', '5s', true)")
    cur = await tx.conn.execute("SELECT public.metrics_snapshot() AS snapshot")
    row = await cur.fetchone()
    return row["snapshot"] if row else {}


async def top_statements(tx: UserScope, *, order: str, limit: int) -> list[dict[str, Any]]:
    """Empty for anyone but an admin (the function checks auth.is_admin() itself)."""
    try:
        cur = await tx.conn.execute(
            "SELECT query, calls, total_ms, mean_ms, max_ms, rows, shared_blks_hit, shared_blks_read"
            "  FROM public.top_statements(%s, %s)", (order, limit))
        return await cur.fetchall()
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        raise StatementsUnavailable(exc.diag.message_primary or str(exc)) from exc


_EXTENSION_SCHEMA = """
SELECT n.nspname FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_stat_statements'
"""

# Every role's statements in this database: the caller is the cluster's superuser or
# an admin login, who may read them anyway.
_TOP_STATEMENTS = """
SELECT s.query, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms,
       s.max_exec_time AS max_ms, s.rows, s.shared_blks_hit, s.shared_blks_read,
       COALESCE(r.rolname, s.userid::text) AS role
  FROM {schema}.pg_stat_statements s
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
 WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
 ORDER BY s.{column} DESC
 LIMIT %s
"""


def top_statements_direct(conn: psycopg.Connection[Any], *, order: str, limit: int) -> list[dict[str, Any]]:
    """For `studio db top`: pg_stat_statements wherever the extension lives (an external
    cluster's operator may have put it in another schema), this database only."""
    if order not in _ORDER_COLUMNS:
        raise ValueError(f"unknown order {order!r}: one of {', '.join(ORDERS)}")
    found = conn.execute(_EXTENSION_SCHEMA).fetchone()
    database = conn.info.dbname
    if found is None:
        raise StatementsUnavailable(
            f"the pg_stat_statements extension is not installed in database {database!r}: run "
            "`studio db bootstrap` (external cluster: --admin-url), or as a superuser: "
            "CREATE EXTENSION pg_stat_statements SCHEMA public")
    query = sql.SQL(_TOP_STATEMENTS).format(schema=sql.Identifier(found[0]),
                                            column=sql.Identifier(_ORDER_COLUMNS[order]))
    try:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, (limit,))
            return cur.fetchall()
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        raise StatementsUnavailable(
            f"{exc.diag.message_primary}: add pg_stat_statements to the server's shared_preload_libraries "
            "and restart it") from exc
