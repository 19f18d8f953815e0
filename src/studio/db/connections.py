"""Statements on plain connections, outside the transaction scopes: LISTEN and a
liveness round trip on a dedicated listening connection, and one-value reads for
operator code (the audit, the restore drill)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql


async def listen(conn: psycopg.AsyncConnection[Any], channel: str) -> None:
    """On an autocommit connection of its own, straight to the server (never through a
    transaction pooler)."""
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))


async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
    """A round trip: an idle connection is still alive."""
    await conn.execute("SELECT 1")


def scalar(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] | None = None) -> Any:
    """The first column of the one row `query` returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]
