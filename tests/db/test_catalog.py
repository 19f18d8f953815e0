"""Catalog checks of the migrated schema (F3, F4, F5, F6, F18, K3), read from the
session's template database: every table, policy, index, role and function is taken
from pg_catalog, so new objects are checked without touching this file.

Each failure message names the offending objects.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from studio.audit import lints
from studio.audit.lints import CLIENT_ROLES, DEFINER_ALLOW_LIST, RUNTIME_ROLES
from tests.db.sample_data import catalog_tables, ident, primary_key_columns

# Documented exceptions (migrations 0002 and 0006).
APPEND_ONLY = frozenset({"public.audit_log", "public.api_usage", "public.audit_runs"})  # created_at only
NATURAL_KEYS = {"public.rate_limit_counters": ["bucket", "window_start"]}
# Ordered identity keys: Server-Sent Events resume "after event N" (Last-Event-ID).
ORDERED_KEYS = {"public.generation_events": "id"}
KEYED_BY_USER = {"auth.credentials": "user_id", "auth.totp_factors": "user_id"}  # one per user (0002, 0032)
# Alembic's bookkeeping table is RLS-protected like every table, but its shape is Alembic's.
ALEMBIC = "public.alembic_version"


@pytest.fixture
def cat(pg, template_db) -> Iterator[psycopg.Connection]:
    # Per test, never held open: CREATE DATABASE ... TEMPLATE fails while anybody is
    # connected to the template.
    with psycopg.connect(pg.admin(template_db), autocommit=True) as conn:
        yield conn


def _tables(cat, include_alembic: bool = True) -> list[str]:
    tables = catalog_tables(cat, include_excluded=include_alembic)
    assert len(tables) > 10, f"suspiciously few tables in the catalog: {tables}"
    return tables


# --------------------------------------------------------------------------- RLS and grants (F5)


def test_every_table_has_rls_enabled_and_forced(cat):
    assert _tables(cat)
    problems = lints.rls_not_forced(cat) + lints.policies_without_rls(cat)
    assert not problems, "tables without ENABLE + FORCE ROW LEVEL SECURITY:\n" + "\n".join(problems)


def test_every_command_has_a_policy_or_no_grant(cat):
    """F5: for anon and authenticated, each command on each table is either governed
    by a policy or not granted at all (explicit absence)."""
    assert len(_tables(cat)) >= 20
    problems = lints.privileges_without_policy(cat, CLIENT_ROLES)
    assert not problems, "\n".join(problems)


def test_worker_and_auth_roles_also_have_policies_for_their_grants(cat):
    problems = lints.privileges_without_policy(cat, lints.SERVICE_ROLES)
    assert not problems, "\n".join(problems)


def test_the_grant_lint_sees_a_grant_without_policy(pg, db, admin_conn):
    """The lint is not vacuous: a grant nobody wrote a policy for is reported."""
    admin_conn.execute("GRANT TRUNCATE, DELETE ON public.backup_runs TO authenticated")
    problems = lints.privileges_without_policy(admin_conn, CLIENT_ROLES)
    assert problems == ["public.backup_runs: authenticated has DELETE privilege but no DELETE policy applies"]


def test_no_always_true_write_policy_for_clients(cat):
    assert lints.write_policy_count(cat) > 10, "no write policies for anon/authenticated found at all"
    bad = lints.always_true_write_policies(cat)
    assert not bad, "always-true write policies:\n" + "\n".join(bad)


def test_no_client_read_policy_shows_every_users_rows(cat):
    assert not lints.always_true_read_policies(cat)


def test_the_read_policy_lint_sees_a_policy_that_shows_every_row(pg, db, admin_conn):
    admin_conn.execute("CREATE POLICY leak ON public.generations FOR SELECT TO authenticated USING (true)")
    assert lints.always_true_read_policies(admin_conn) == [
        "public.generations: policy leak (SELECT TO authenticated) shows every user's rows (USING true)"]


def test_the_client_grants_are_exactly_those_written_down(cat):
    """src/studio/audit/client_grants.txt is what the migrations grant the client roles:
    a migration that grants more (or less) updates it, on purpose."""
    granted, written = lints.client_grants(cat), lints.needed_client_grants()
    assert granted == written, (f"granted but not written down: {sorted(granted - written)}\n"
                                f"written down but not granted: {sorted(written - granted)}")
    assert any(line.endswith(")") for line in written) and len(written) > 100  # column grants are in it


def test_the_grant_lint_sees_a_grant_beyond_need(pg, db, admin_conn):
    assert lints.client_grants_beyond_need(admin_conn) == []
    admin_conn.execute("GRANT UPDATE ON public.users TO authenticated")
    admin_conn.execute("GRANT SELECT (email) ON public.users TO anon")
    admin_conn.execute("GRANT INSERT ON public.audit_log TO PUBLIC")
    assert lints.client_grants_beyond_need(admin_conn) == [
        "PUBLIC has INSERT on public.audit_log, which the API does not need",
        "anon has SELECT on public.users (email), which the API does not need",
        "authenticated has UPDATE on public.users, which the API does not need"]


# --------------------------------------------------------------------------- policy shape (F18)


def test_policies_wrap_auth_functions_in_a_subselect(cat):
    bare, calls = lints.unwrapped_auth_calls(cat)
    assert calls > 20, f"only {calls} auth.* calls found in policies; the check would be vacuous"
    assert not bare, "\n".join(bare)


def test_no_role_has_several_permissive_policies_for_one_command(cat):
    problems = lints.multiple_permissive_policies(cat)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- indexes (F6)


def test_every_foreign_key_is_indexed(cat):
    unindexed, fks = lints.unindexed_foreign_keys(cat)
    assert fks > 20, f"only {fks} foreign keys found"
    assert not unindexed, "\n".join(unindexed)


def test_no_duplicate_indexes(cat):
    duplicates = lints.duplicate_indexes(cat)
    assert not duplicates, "\n".join(duplicates)


# --------------------------------------------------------------------------- roles (F3, F4)


def test_runtime_roles_cannot_bypass_rls(cat):
    rows = cat.execute("SELECT rolname, rolsuper, rolbypassrls, rolinherit, rolcanlogin "
                       "FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)",
                       (list(RUNTIME_ROLES) + ["studio_owner"],)).fetchall()
    roles = {r[0]: r[1:] for r in rows}
    assert set(roles) == set(RUNTIME_ROLES) | {"studio_owner"}, f"missing roles: {roles}"
    bad = lints.runtime_roles_bypassing_rls(cat)
    assert not bad, "runtime roles that bypass RLS:\n" + "\n".join(bad)
    assert roles["studio_owner"][0] is False, "studio_owner is a superuser"
    _, _, inherit, login = roles["studio_api"]
    assert (inherit, login) == (False, True), f"studio_api: inherit={inherit} login={login}"


def test_studio_api_is_member_of_exactly_anon_and_authenticated(cat):
    assert lints.api_role_problems(cat) == []

    def memberships(role: str) -> set[str]:
        return {r[0] for r in cat.execute(
            "SELECT m.roleid::regrole::text FROM pg_catalog.pg_auth_members m "
            "WHERE m.member = %s::regrole", (role,)).fetchall()}

    assert memberships("studio_api") == {"anon", "authenticated"}
    assert memberships("studio_worker") == set(), "studio_worker may switch to another role"
    for role in ("anon", "authenticated"):
        assert memberships(role) == set(), f"{role} is a member of other roles"


OWNER_COLUMNS = ("user_id", "owner_id", "requester_id")


def test_worker_cannot_reassign_ownership(cat):
    """The worker updates progress and results, never whose row it is."""
    movable = []
    for table in _tables(cat, include_alembic=False):
        for column in OWNER_COLUMNS:
            if column in _columns(cat, table) and cat.execute(
                    "SELECT pg_catalog.has_column_privilege('studio_worker', %s, %s, 'UPDATE')",
                    (table, column)).fetchone()[0]:
                movable.append(f"{table}.{column}")
    assert not movable, f"studio_worker may UPDATE ownership columns: {', '.join(movable)}"


# --------------------------------------------------------------------------- functions


def test_security_definer_functions_pin_search_path(cat):
    assert len(lints.definer_functions(cat)) >= 8
    unpinned = lints.definer_without_search_path(cat)
    assert not unpinned, "SECURITY DEFINER functions without SET search_path:\n" + "\n".join(unpinned)


@pytest.mark.parametrize("function", ["auth.uid()", "auth.is_admin()", "auth.user_role()"])
def test_claim_functions_stay_inlinable(cat, function):
    row = cat.execute(
        "SELECT l.lanname, p.provolatile::text, p.prosecdef, p.proconfig FROM pg_catalog.pg_proc p "
        "JOIN pg_catalog.pg_language l ON l.oid = p.prolang WHERE p.oid = %s::regprocedure",
        (function,)).fetchone()
    assert row == ("sql", "s", False, None), \
        f"{function}: language={row[0]} volatility={row[1]} security_definer={row[2]} proconfig={row[3]}"


def test_security_definer_functions_follow_the_allow_list(cat):
    """Neither PUBLIC nor any role beyond the allow-list may call a definer function."""
    wrong = lints.definer_callable_without_need(cat)
    assert not wrong, "\n".join(wrong)


def test_allow_listed_functions_are_callable(cat):
    """The positive half of the allow-list, which must keep holding once PUBLIC is revoked."""
    for role, allowed in DEFINER_ALLOW_LIST.items():
        callers = lints.definer_callers(cat, role)
        assert allowed <= callers, f"{role} cannot execute {sorted(allowed - callers)}"


def test_dynamic_sql_in_functions_quotes_what_it_splices(cat):
    problems = lints.dynamic_sql_built_from_strings(cat)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- table shape (K3)


def _columns(cat, table: str) -> dict[str, tuple[str, bool]]:
    rows = cat.execute(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (table,)).fetchall()
    return {name: (type_, notnull) for name, type_, notnull in rows}


def test_timestamps_and_updated_at_triggers(cat):
    problems = []
    for table in _tables(cat, include_alembic=False):
        columns = _columns(cat, table)
        if columns.get("created_at") != ("timestamp with time zone", True):
            problems.append(f"{table}: created_at is {columns.get('created_at')}, expected timestamptz NOT NULL")
        if table in APPEND_ONLY:
            if "updated_at" in columns:
                problems.append(f"{table}: documented as append-only but has updated_at")
            continue
        if columns.get("updated_at") != ("timestamp with time zone", True):
            problems.append(f"{table}: updated_at is {columns.get('updated_at')}, expected timestamptz NOT NULL")
        triggers = cat.execute(
            """
            SELECT t.tgname FROM pg_catalog.pg_trigger t
             WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal AND t.tgenabled <> 'D'
               AND t.tgfoid = 'public.set_updated_at()'::regprocedure
               AND t.tgtype & 1 = 1      -- FOR EACH ROW
               AND t.tgtype & 2 = 2      -- BEFORE
               AND t.tgtype & 16 = 16    -- UPDATE
            """, (table,)).fetchall()
        if not triggers:
            problems.append(f"{table}: no BEFORE UPDATE FOR EACH ROW trigger calling public.set_updated_at()")
    assert not problems, "\n".join(problems)


def test_primary_keys_are_uuids(cat):
    problems = []
    for table in _tables(cat, include_alembic=False):
        pk = primary_key_columns(cat, table)
        columns = _columns(cat, table)
        if table in NATURAL_KEYS:
            if pk != NATURAL_KEYS[table]:
                problems.append(f"{table}: primary key {pk}, documented as {NATURAL_KEYS[table]}")
            continue
        if table in ORDERED_KEYS:
            if pk != [ORDERED_KEYS[table]] or columns[pk[0]][0] != "bigint":
                problems.append(f"{table}: primary key {pk}, documented as an ordered bigint identity")
            continue
        if len(pk) != 1 or columns[pk[0]][0] != "uuid":
            problems.append(f"{table}: primary key {pk} is not a single uuid column")
            continue
        expected = KEYED_BY_USER.get(table, "id")
        if pk[0] != expected:
            problems.append(f"{table}: primary key column is {pk[0]}, expected {expected}")
        elif table not in KEYED_BY_USER:
            default = cat.execute(
                "SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d "
                "JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                "WHERE d.adrelid = %s::regclass AND a.attname = 'id'", (table,)).fetchone()
            if default is None or "gen_random_uuid()" not in default[0]:
                problems.append(f"{table}: id has default {default}, expected gen_random_uuid()")
    assert not problems, "\n".join(problems)


def test_updated_at_is_maintained_by_the_database(pg, filled_db):
    """An UPDATE that tries to set updated_at to an old value gets now() instead, on
    every table that has the column."""
    checked = []
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as conn:
        for table in catalog_tables(conn):
            if "updated_at" not in _columns(conn, table):
                continue
            with conn.transaction():
                rows = conn.execute(sql.SQL(
                    "UPDATE {} SET updated_at = '2001-02-03 04:05:06+00' "
                    "RETURNING updated_at, pg_catalog.now(), updated_at = '2001-02-03 04:05:06+00'").format(
                    ident(table))).fetchall()
            assert rows, f"{table}: no sample rows to update"
            stale = [r for r in rows if r[0] != r[1]]
            assert not stale, f"{table}: updated_at not replaced by now(): {stale[:3]}"
            checked.append(table)
    assert len(checked) >= 20, checked
