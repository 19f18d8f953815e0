"""The scale tier: one database per session, seeded by `studio dev seed`'s own code with
a million rows over ten thousand users (F6, F18, F19, F22), and dropped at the end of
the session, also on failure.

Tests here read it only (writes run in transactions that are rolled back), so they share
it. `scale` gives the database, the seed's report, and the rows the hot queries are
asked about: the heaviest user's, where an index that does not match would hurt most.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest

from studio.dev import seed as seeding
from tests.conftest import TEMPLATE_DB, PgTestCluster

SCALE_USERS = 10_000
SCALE_ROWS = 1_000_000
SCALE_SEED = 5


@dataclass(frozen=True)
class ScaleDb:
    name: str
    pg: PgTestCluster
    report: seeding.SeedReport
    heavy_user: UUID
    heavy_email: str
    long_conversation: UUID          # the heaviest user's conversation with the most messages
    long_conversation_leaf: UUID     # its newest message (the end of its longest branch)
    provider_job: tuple[str, str]    # (provider, provider_job_id) of one of the heavy user's generations
    training_job: UUID               # one of the heavy user's training jobs, an active one if any

    def admin(self) -> str:
        """Superuser: RLS does not apply. Arranges, inspects, and is the no-RLS baseline."""
        return self.pg.admin(self.name)

    def conninfo(self, role: str) -> str:
        return self.pg.conninfo(role, self.name)

    @property
    def big_tables(self) -> frozenset[str]:
        """Tables the seed filled with at least 10,000 rows: a Seq Scan of one of them in a
        hot query reads the whole table for a page of results."""
        return frozenset(table.split(".")[1] for table, rows in self.report.rows.items() if rows >= 10_000)


def _one(conn: psycopg.Connection[Any], query: str, params: tuple) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, f"the seeded data has no row for: {query}"
    return row


@pytest.fixture(scope="session")
def scale(pg: PgTestCluster) -> Iterator[ScaleDb]:
    name = pg.create_database(template=TEMPLATE_DB)
    try:
        report = seeding.seed(pg.admin(name), users=SCALE_USERS, rows=SCALE_ROWS, seed=SCALE_SEED)
        heavy = report.heavy_user_id
        with psycopg.connect(pg.admin(name), autocommit=True) as conn:
            conversation = _one(conn, "SELECT m.conversation_id FROM public.messages m"
                                      "  JOIN public.conversations c ON c.id = m.conversation_id"
                                      " WHERE c.user_id = %s GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                                (heavy,))[0]
            leaf = _one(conn, "SELECT id FROM public.messages WHERE conversation_id = %s"
                              " ORDER BY created_at DESC, id DESC LIMIT 1", (conversation,))[0]
            provider_job = _one(conn, "SELECT provider, provider_job_id FROM public.generations"
                                      " WHERE user_id = %s AND provider_job_id IS NOT NULL ORDER BY id LIMIT 1",
                                (heavy,))
            training_job = _one(conn, "SELECT id FROM public.training_jobs WHERE user_id = %s"
                                      " ORDER BY status IN ('queued', 'preparing', 'training') DESC, id LIMIT 1",
                                (heavy,))[0]
        yield ScaleDb(name, pg, report, heavy, report.heavy_user_email, conversation, leaf,
                      (provider_job[0], provider_job[1]), training_job)
    finally:
        pg.drop_database(name)
