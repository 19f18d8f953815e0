"""Readiness SQL, in an anonymous scope (anon may read `alembic_version` and call
`backup_status()`)."""

from __future__ import annotations

from typing import Any

from studio.db.scopes import AnonScope


async def schema_version(tx: AnonScope) -> str | None:
    """The migration the database is at, None when it has none."""
    cur = await tx.conn.execute("SELECT version_num FROM public.alembic_version")
    row = await cur.fetchone()
    return row["version_num"] if row else None


async def backup_status(tx: AnonScope) -> dict[str, Any]:
    """The last backups and drill as `public.backup_status()` reports them ({} when none)."""
    cur = await tx.conn.execute("SELECT public.backup_status() AS status")
    return (await cur.fetchone() or {}).get("status") or {}
