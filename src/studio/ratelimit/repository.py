"""Rate limit SQL: `auth.rate_limit_hit`, the one way to the counters (service.py)."""

from __future__ import annotations

from studio.db.scopes import AnonScope, UserScope


async def hit(tx: UserScope | AnonScope, *, bucket: str, limit: int, window_seconds: int) -> int:
    """Counts one request in `bucket`, in the caller's transaction: 0 when allowed, else
    the seconds until the window ends. Raises psycopg errors as they come."""
    cur = await tx.conn.execute("SELECT auth.rate_limit_hit(%s, %s, %s) AS retry_after",
                                (bucket, limit, window_seconds))
    row = await cur.fetchone()
    assert row is not None
    return int(row["retry_after"])
