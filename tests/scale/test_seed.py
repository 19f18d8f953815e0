"""`studio dev seed` itself: the data it writes is consistent (every foreign key holds,
although it writes with triggers off), counted honestly, skewed like real data, and the
same for the same seed; it refuses production, non-superusers and outdated schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from studio.config import OWNER_ROLE
from studio.dev import seed as seeding
from tests.scale.conftest import SCALE_ROWS, SCALE_USERS, ScaleDb

# Every foreign key of the application schemas, as (child table, child columns, parent
# table, parent columns), from the catalog: a key added later is checked too.
_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.confrelid::regclass::text,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.i),
       c.conname
  FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
 WHERE c.contype = 'f' AND n.nspname IN ('public', 'auth')
 ORDER BY c.conname
"""


def _table(name: str) -> sql.Identifier:
    """A regclass text (public tables unqualified, auth.credentials qualified)."""
    return sql.Identifier(*name.split(".")) if "." in name else sql.Identifier("public", name)


def test_every_foreign_key_holds(scale: ScaleDb) -> None:
    """The seed writes with triggers off, foreign-key checks included: the keys must hold
    by construction. MATCH SIMPLE: a row with a NULL in its key references nothing."""
    broken = {}
    with psycopg.connect(scale.admin()) as conn:
        keys = conn.execute(_FOREIGN_KEYS).fetchall()
        assert len(keys) >= 30, keys  # the catalog query finds the schema's keys
        for child, parent, columns, referenced, name in keys:
            query = sql.SQL("SELECT count(*) FROM {child} c WHERE {not_null} AND NOT EXISTS"
                            " (SELECT 1 FROM {parent} p WHERE {match})").format(
                child=_table(child), parent=_table(parent),
                not_null=sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in columns),
                match=sql.SQL(" AND ").join(sql.SQL("p.{} = c.{}").format(sql.Identifier(p), sql.Identifier(c))
                                            for c, p in zip(columns, referenced, strict=True)))
            orphans = conn.execute(query).fetchone()[0]
            if orphans:
                broken[name] = orphans
    assert not broken


def test_the_report_counts_what_is_there(scale: ScaleDb) -> None:
    """The template holds no rows of these tables, so every row is the seed's."""
    with psycopg.connect(scale.admin()) as conn:
        counted = {table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(table))).fetchone()[0]
                   for table in scale.report.rows}
    assert counted == scale.report.rows
    assert scale.report.total == SCALE_ROWS and counted["public.users"] == SCALE_USERS
    assert all(counted[table] > 0 for table in seeding.TABLES), counted


def test_the_data_is_skewed_like_real_data(scale: ScaleDb) -> None:
    """A few heavy users, many light ones; user 1 the heaviest; months of history."""
    with psycopg.connect(scale.admin()) as conn:
        per_user = [row[0] for row in conn.execute(
            "SELECT count(c.id) FROM public.users u LEFT JOIN public.conversations c ON c.user_id = u.id"
            " GROUP BY u.id ORDER BY 1 DESC").fetchall()]
        heaviest = {table: conn.execute(sql.SQL("SELECT user_id FROM {} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
                                        .format(_table(table))).fetchone()[0]
                    for table in ("public.conversations", "public.generations", "public.datasets")}
        first, last = conn.execute("SELECT min(created_at), max(created_at) FROM public.messages").fetchone()
    top_percent = per_user[:len(per_user) // 100]
    assert sum(top_percent) > 0.2 * sum(per_user), "the top 1% of users should own over a fifth of the rows"
    assert per_user[len(per_user) // 2] <= 10, "the median user should have a handful of conversations"
    assert set(heaviest.values()) == {scale.heavy_user}
    assert (last - first).days > 300


def _digests(conninfo: str) -> dict[str, str]:
    with psycopg.connect(conninfo) as conn:
        return {table: conn.execute(sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} AS t")
                                    .format(_table(table))).fetchone()[0]
                for table in seeding.TABLES}


def test_the_same_seed_writes_the_same_rows(pg) -> None:
    anchor = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    first, second = pg.create_database(), pg.create_database()
    try:
        reports = [seeding.seed(pg.admin(name), users=300, rows=30_000, seed=11, anchor=anchor)
                   for name in (first, second)]
        assert reports[0].rows == reports[1].rows and reports[0].total == 30_000
        same = _digests(pg.admin(first))
        assert same == _digests(pg.admin(second))

        # Another seed is other users: it goes into the same database, and changes every table.
        seeding.seed(pg.admin(second), users=300, rows=30_000, seed=12, anchor=anchor)
        layered = _digests(pg.admin(second))
        assert all(layered[table] != same[table] for table in seeding.TABLES)
        with pytest.raises(seeding.SeedError, match="already in this database"):
            seeding.seed(pg.admin(second), users=10, rows=100, seed=11, anchor=anchor)
    finally:
        pg.drop_database(first)
        pg.drop_database(second)


def test_it_refuses_production_before_touching_anything(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("STUDIO_")}
    env.update(STUDIO_ENV="production", STUDIO_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "studio", "dev", "seed", "--users", "10", "--rows", "100"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done
    assert "refuses to run in production mode" in done.stderr
    assert not any(tmp_path.iterdir()), "no cluster may be created or started"


def test_it_needs_a_superuser_and_a_migrated_database(pg, db) -> None:
    with pytest.raises(seeding.SeedError, match="superuser"):
        seeding.seed(pg.conninfo(OWNER_ROLE, db), users=10, rows=100)
    empty = pg.create_database(template="template0")
    try:
        with pytest.raises(seeding.SeedError, match="studio db upgrade"):
            seeding.seed(pg.admin(empty), users=10, rows=100)
    finally:
        pg.drop_database(empty)
