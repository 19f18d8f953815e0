"""Migrations go up and down with data in the tables (F9, F22).

Databases here start empty, set up like `roles.bootstrap` does for a new one (owned by
studio_owner, connect granted to Studio's roles only, public schema owned by
studio_owner), and are migrated as studio_owner through `studio.db.migrate`. The
schema is compared with `pg_dump --schema-only` (owners and privileges included).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from studio.config import OWNER_ROLE
from studio.db import migrate, roles
from studio.db.embedded import find_pg_bindir
from tests.db.sample_data import catalog_tables, fill_every_table

VERSIONS_DIR = migrate.MIGRATIONS_DIR / "versions"


# --------------------------------------------------------------------------- helpers


def create_empty_database(pg) -> str:
    """A new, empty database prepared like roles.bootstrap prepares Studio's."""
    name = f"studio_test_mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
            sql.Identifier(name), sql.Identifier(OWNER_ROLE)))
        roles.grant_connect(conn, name)
    with psycopg.connect(pg.admin(name), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
    return name


@pytest.fixture
def empty_db(pg) -> Iterator[str]:
    name = create_empty_database(pg)
    try:
        yield name
    finally:
        pg.drop_database(name)


def pg_dump_path() -> str:
    """pg_dump of the same installation as the server: find_pg_bindir() may be a
    directory of symlinks to the server tools only (e.g. /usr/local/bin), so the
    directory the postgres binary really lives in comes next, then PATH."""
    bindir = find_pg_bindir()
    candidates = [bindir / "pg_dump", (bindir / "postgres").resolve().parent / "pg_dump"]
    on_path = shutil.which("pg_dump")
    for candidate in [*candidates, *([Path(on_path)] if on_path else [])]:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"pg_dump not found in {[str(c) for c in candidates]} or on PATH")


def schema_dump(pg, dbname: str) -> str:
    """pg_dump --schema-only (with owners and privileges), without comment lines,
    blank lines, the database name, and the per-run random \\restrict key."""
    params = conninfo_to_dict(pg.admin(dbname))
    args = [pg_dump_path(), "--schema-only", "--no-password",
            "-h", str(params["host"]), "-p", str(params.get("port", 5432)), "-U", str(params["user"]),
            "-d", dbname]
    env = {**os.environ, "PGPASSWORD": str(params.get("password", ""))}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, f"pg_dump failed: {result.stderr}"
    lines = []
    for line in result.stdout.splitlines():
        if not line.strip() or line.startswith("--") or line.startswith(("\\restrict ", "\\unrestrict ")):
            continue
        lines.append(line.replace(dbname, "<dbname>"))
    assert len(lines) > 10, result.stdout
    return "\n".join(lines) + "\n"


def first_difference(left: str, right: str) -> str:
    a, b = left.splitlines(), right.splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"line {i + 1}:\n  round-tripped: {x}\n  fresh:         {y}"
    return f"lengths differ: {len(a)} vs {len(b)} lines; extra: {(a[len(b):] or b[len(a):])[:10]}"


def leftovers(conn: psycopg.Connection) -> list[str]:
    """Studio objects still present in a database migrated down to base."""
    found = []
    tables = [r[0] for r in conn.execute(
        "SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')").fetchall()]
    found += [f"relation {t}" for t in tables if t != "public.alembic_version"]
    found += [f"schema {r[0]}" for r in conn.execute(
        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = 'auth'").fetchall()]
    found += [f"function {r[0]}" for r in conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p "
        "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')").fetchall()]
    found += [f"policy {r[0]} on {r[1]}" for r in conn.execute(
        "SELECT policyname, tablename FROM pg_catalog.pg_policies").fetchall()]
    found += [f"type {r[0]}" for r in conn.execute(
        "SELECT t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') "
        "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.reltype = t.oid)").fetchall()]
    rls = conn.execute("SELECT relrowsecurity OR relforcerowsecurity FROM pg_catalog.pg_class "
                       "WHERE oid = 'public.alembic_version'::regclass").fetchone()
    if rls and rls[0]:
        found.append("row-level security still on public.alembic_version")
    # Grants to Studio's roles on the public schema (PUBLIC's own USAGE is PostgreSQL's default).
    found += [f"{r[1]} on schema public still granted to {r[0]}" for r in conn.execute(
        "SELECT a.grantee::regrole::text, a.privilege_type FROM pg_catalog.pg_namespace n, "
        "pg_catalog.aclexplode(n.nspacl) a WHERE n.nspname = 'public' "
        "AND a.grantee = ANY(ARRAY['anon', 'authenticated', 'studio_worker', 'studio_auth']::regrole[]::oid[])"
    ).fetchall()]
    return found


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(*t.split(".")))).fetchone()[0] for t in catalog_tables(conn)}


@pytest.fixture(scope="module")
def fresh_head_dump(pg) -> str:
    name = create_empty_database(pg)
    try:
        migrate.upgrade(pg.conninfo(OWNER_ROLE, name))
        return schema_dump(pg, name)
    finally:
        pg.drop_database(name)


# --------------------------------------------------------------------------- tests


def test_every_revision_has_a_real_downgrade():
    files = sorted(VERSIONS_DIR.glob("*.py"))
    assert len(files) >= 8, files
    problems = []
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        downgrade = functions.get("downgrade")
        if downgrade is None:
            problems.append(f"{path.name}: no downgrade()")
            continue
        body = [n for n in downgrade.body
                if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]  # docstrings
        source = ast.unparse(downgrade)
        if not body or all(isinstance(n, ast.Pass) for n in body):
            problems.append(f"{path.name}: downgrade() is empty")
        elif "NotImplementedError" in source:
            problems.append(f"{path.name}: downgrade() raises NotImplementedError")
        elif not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                     and isinstance(n.func.value, ast.Name) and n.func.value.id == "op"
                     for n in ast.walk(downgrade)):
            problems.append(f"{path.name}: downgrade() never calls op.*")
    assert not problems, "\n".join(problems)


def test_up_down_up_with_data_gives_the_fresh_schema(pg, empty_db, fresh_head_dump):
    owner = pg.conninfo(OWNER_ROLE, empty_db)
    migrate.upgrade(owner)
    assert migrate.current_revision(owner) == migrate.head_revision()
    with psycopg.connect(pg.admin(empty_db), autocommit=True) as conn:
        seeded = table_counts(conn)  # rows the migrations themselves write (built-in models)
        fill_every_table(conn)
        counts = table_counts(conn)
    assert counts and all(counts.values()), f"tables left empty by the sample data: {counts}"

    migrate.downgrade(owner, "base")
    assert migrate.current_revision(owner) is None
    with psycopg.connect(pg.admin(empty_db), autocommit=True) as conn:
        assert leftovers(conn) == [], "left behind by the downgrade to base"

    migrate.upgrade(owner)
    assert migrate.current_revision(owner) == migrate.head_revision()
    dump = schema_dump(pg, empty_db)
    assert dump == fresh_head_dump, "schema after up/down/up differs from a fresh upgrade: " + \
        first_difference(dump, fresh_head_dump)
    with psycopg.connect(pg.admin(empty_db), autocommit=True) as conn:
        assert table_counts(conn) == seeded, "rows survived the downgrade"


def test_base_is_a_pristine_database(pg, empty_db):
    """Down to base, the database is what it was before the first upgrade, apart from
    Alembic's (empty) version table."""
    pristine = create_empty_database(pg)
    try:
        with psycopg.connect(pg.admin(pristine), autocommit=True) as conn:
            conn.execute("CREATE TABLE public.alembic_version (version_num varchar(32) NOT NULL, "
                         "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            conn.execute("ALTER TABLE public.alembic_version OWNER TO studio_owner")
        expected = schema_dump(pg, pristine)
    finally:
        pg.drop_database(pristine)
    owner = pg.conninfo(OWNER_ROLE, empty_db)
    migrate.upgrade(owner)
    migrate.downgrade(owner, "base")
    dump = schema_dump(pg, empty_db)
    assert dump == expected, "base differs from a pristine database: " + first_difference(dump, expected)


def test_each_revision_steps_down_and_up_with_data(pg, empty_db, fresh_head_dump):
    revisions = [rev for rev, _ in migrate.history()]
    assert len(revisions) >= 8 and revisions[-1] == migrate.head_revision(), revisions
    owner = pg.conninfo(OWNER_ROLE, empty_db)
    admin = pg.admin(empty_db)

    migrate.upgrade(owner)
    with psycopg.connect(admin, autocommit=True) as conn:
        fill_every_table(conn)

    # Down, one revision at a time; the tables that remain keep their rows.
    for expected in [*reversed(revisions[:-1]), None]:
        migrate.downgrade(owner, "-1")
        assert migrate.current_revision(owner) == expected, f"stepping down to {expected}"
        with psycopg.connect(admin, autocommit=True) as conn:
            counts = table_counts(conn)
        assert all(counts.values()), f"at {expected}: tables lost their rows on the way down: {counts}"
    with psycopg.connect(admin, autocommit=True) as conn:
        assert leftovers(conn) == [], "left behind by stepping down to base"

    # Up, one revision at a time, adding rows at every step (each step's own tables
    # get rows before the next revision runs over them).
    seen_tables: set[str] = set()
    for revision in revisions:
        migrate.upgrade(owner, revision)
        assert migrate.current_revision(owner) == revision, f"stepping up to {revision}"
        with psycopg.connect(admin, autocommit=True) as conn:
            tables = catalog_tables(conn)
            if tables:
                fill_every_table(conn)
            counts = table_counts(conn)
        assert all(counts.values()), f"at {revision}: empty tables {counts}"
        seen_tables |= set(tables)
    assert len(seen_tables) > 20, seen_tables

    dump = schema_dump(pg, empty_db)
    assert dump == fresh_head_dump, "schema after stepping down and up differs from a fresh upgrade: " + \
        first_difference(dump, fresh_head_dump)


def test_migration_files_match_the_revision_chain():
    """Every file under versions/ is one link of the single chain Alembic walks."""
    files = {p.stem for p in VERSIONS_DIR.glob("*.py")}
    revisions = [rev for rev, _ in migrate.history()]
    assert len(files) == len(revisions) == len(set(revisions)), (sorted(files), revisions)
    assert all(any(f.startswith(rev) for f in files) for rev in revisions), (sorted(files), revisions)
