"""Catalog checks of the migrated schema (F3, F4, F5, F6, F18, K3), read from the
session's template database: every table, policy, index, role and function is taken
from pg_catalog, so new objects are checked without touching this file.

Each failure message names the offending objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.db.sample_data import (
    APP_SCHEMAS,
    catalog_tables,
    ident,
    primary_key_columns,
    rls_problems,
)

CLIENT_ROLES = ("anon", "authenticated")
RUNTIME_ROLES = ("studio_api", "studio_worker", "anon", "authenticated", "studio_auth", "studio_system")
COMMANDS = {"SELECT": "r", "INSERT": "a", "UPDATE": "w", "DELETE": "d"}
# Documented exceptions (migrations 0002 and 0006).
APPEND_ONLY = frozenset({"public.audit_log", "public.api_usage"})  # created_at only
NATURAL_KEYS = {"public.rate_limit_counters": ["bucket", "window_start"]}
# Ordered identity keys: Server-Sent Events resume "after event N" (Last-Event-ID).
ORDERED_KEYS = {"public.generation_events": "id"}
KEYED_BY_USER = {"auth.credentials": "user_id"}
# Alembic's bookkeeping table is RLS-protected like every table, but its shape is Alembic's.
ALEMBIC = "public.alembic_version"
# Who may call which SECURITY DEFINER function (0002_accounts.py, 0010_webhooks_shares_limits.py,
# 0012_backup_runs.py, 0014_privacy.py, 0015_retention.py).
DEFINER_ALLOW_LIST = {
    "anon": {"auth.signup", "auth.login_retry_after", "auth.login_credentials", "auth.login_failed",
             "auth.create_session", "auth.authenticate", "auth.rate_limit_hit", "public.record_webhook",
             "public.backup_status", "public.metrics_snapshot"},
    "authenticated": {"auth.authenticate", "auth.delete_account", "auth.rate_limit_hit", "auth.audit_export",
                      "auth.change_password", "public.top_statements"},
    "studio_worker": {"public.backup_status", "public.notify_admins", "public.apply_retention"},
}


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
    problems = rls_problems(cat)
    assert not problems, "tables without ENABLE + FORCE ROW LEVEL SECURITY:\n" + "\n".join(problems)


def _privilege_without_policy(cat, roles: tuple[str, ...]) -> tuple[list[str], int]:
    problems, checked = [], 0
    for table in _tables(cat):
        for command, polcmd in COMMANDS.items():
            for role in roles:
                checked += 1
                has_privilege = cat.execute(
                    "SELECT pg_catalog.has_table_privilege(%(r)s, %(t)s, %(c)s) "
                    "    OR (%(c)s <> 'DELETE' AND pg_catalog.has_any_column_privilege(%(r)s, %(t)s, %(c)s))",
                    {"r": role, "t": table, "c": command}).fetchone()[0]
                has_policy = cat.execute(
                    """
                    SELECT EXISTS (
                        SELECT 1 FROM pg_catalog.pg_policy p
                         WHERE p.polrelid = %(t)s::regclass AND p.polcmd IN (%(c)s, '*')
                           AND (0::oid = ANY(p.polroles) OR %(r)s::regrole = ANY(p.polroles)))
                    """, {"r": role, "t": table, "c": polcmd}).fetchone()[0]
                if has_privilege and not has_policy:
                    problems.append(f"{table}: {role} has {command} privilege but no {command} policy applies")
    return problems, checked


def test_every_command_has_a_policy_or_no_grant(cat):
    """F5: for anon and authenticated, each command on each table is either governed
    by a policy or not granted at all (explicit absence)."""
    problems, checked = _privilege_without_policy(cat, CLIENT_ROLES)
    assert checked >= 4 * 2 * 20
    assert not problems, "\n".join(problems)


def test_worker_and_auth_roles_also_have_policies_for_their_grants(cat):
    problems, _ = _privilege_without_policy(cat, ("studio_worker", "studio_auth", "studio_system"))
    assert not problems, "\n".join(problems)


def test_no_always_true_write_policy_for_clients(cat):
    rows = cat.execute(
        """
        SELECT schemaname || '.' || tablename, policyname, cmd, roles::text[], qual, with_check
          FROM pg_catalog.pg_policies
         WHERE schemaname = ANY(%s) AND cmd IN ('INSERT', 'UPDATE', 'DELETE', 'ALL')
           AND roles && ARRAY['anon', 'authenticated', 'public']::name[]
        """, (list(APP_SCHEMAS),)).fetchall()
    assert rows, "no write policies for anon/authenticated found at all"
    bad = [f"{t}: policy {name} ({cmd} TO {', '.join(roles)}) has USING {qual!r} / WITH CHECK {check!r}"
           for t, name, cmd, roles, qual, check in rows
           if (qual or "").strip() == "true" or (check or "").strip() == "true"]
    assert not bad, "always-true write policies:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- policy shape (F18)

_AUTH_CALL = re.compile(r"auth\.(uid|is_admin|user_role)\(\)")


def test_policies_wrap_auth_functions_in_a_subselect(cat):
    rows = cat.execute(
        """
        SELECT schemaname || '.' || tablename, policyname, 'USING', qual FROM pg_catalog.pg_policies
         WHERE schemaname = ANY(%(s)s) AND qual IS NOT NULL
        UNION ALL
        SELECT schemaname || '.' || tablename, policyname, 'WITH CHECK', with_check FROM pg_catalog.pg_policies
         WHERE schemaname = ANY(%(s)s) AND with_check IS NOT NULL
        """, {"s": list(APP_SCHEMAS)}).fetchall()
    calls, bare = 0, []
    for table, policy, clause, expr in rows:
        for match in _AUTH_CALL.finditer(expr):
            calls += 1
            # Deparsed as "( SELECT auth.uid() AS uid)" when wrapped.
            if not (expr[:match.start()].endswith("SELECT ")
                    and expr[match.end():].startswith(f" AS {match.group(1)})")):
                bare.append(f"{table}: policy {policy} {clause} calls {match.group(0)} unwrapped: {expr}")
    assert calls > 20, f"only {calls} auth.* calls found in policies; the check would be vacuous"
    assert not bare, "\n".join(bare)


# --------------------------------------------------------------------------- indexes (F6)


def test_every_foreign_key_is_indexed(cat):
    fks = cat.execute(
        """
        SELECT k.conrelid, n.nspname || '.' || c.relname, k.conname, k.conkey::int[],
               (SELECT pg_catalog.array_agg(a.attname ORDER BY u.ord)
                  FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum)
          FROM pg_catalog.pg_constraint k
          JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE k.contype = 'f' AND n.nspname = ANY(%s)
         ORDER BY 2, 3
        """, (list(APP_SCHEMAS),)).fetchall()
    assert len(fks) > 20, f"only {len(fks)} foreign keys found"
    unindexed = []
    for relid, table, name, conkey, columns in fks:
        indexes = cat.execute(
            "SELECT i.indkey::int2[]::int[] FROM pg_catalog.pg_index i "
            "WHERE i.indrelid = %s AND i.indpred IS NULL AND i.indisvalid", (relid,)).fetchall()
        if not any(set(indkey[:len(conkey)]) == set(conkey) for (indkey,) in indexes):
            unindexed.append(f"{table}: foreign key {name} ({', '.join(columns)}) has no index leading with it")
    assert not unindexed, "\n".join(unindexed)


# --------------------------------------------------------------------------- roles (F3, F4)


def test_runtime_roles_cannot_bypass_rls(cat):
    rows = cat.execute("SELECT rolname, rolsuper, rolbypassrls, rolinherit, rolcanlogin "
                       "FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)",
                       (list(RUNTIME_ROLES) + ["studio_owner"],)).fetchall()
    roles = {r[0]: r[1:] for r in rows}
    assert set(roles) == set(RUNTIME_ROLES) | {"studio_owner"}, f"missing roles: {roles}"
    bad = [f"{name}: superuser={s} bypassrls={b}" for name, (s, b, _, _) in roles.items()
           if name in RUNTIME_ROLES and (s or b)]
    assert not bad, "runtime roles that bypass RLS:\n" + "\n".join(bad)
    assert roles["studio_owner"][0] is False, "studio_owner is a superuser"
    _, _, inherit, login = roles["studio_api"]
    assert (inherit, login) == (False, True), f"studio_api: inherit={inherit} login={login}"


def test_studio_api_is_member_of_exactly_anon_and_authenticated(cat):
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


def _definer_functions(cat) -> list[tuple[int, str, list[str] | None]]:
    return cat.execute(
        """
        SELECT p.oid, n.nspname || '.' || p.proname, p.proconfig
          FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 2
        """).fetchall()


def test_security_definer_functions_pin_search_path(cat):
    functions = _definer_functions(cat)
    assert len(functions) >= 8, functions
    unpinned = [f"{name} (proconfig={config})" for _, name, config in functions
                if not any(c.startswith("search_path=") for c in (config or []))]
    assert not unpinned, "SECURITY DEFINER functions without SET search_path:\n" + "\n".join(unpinned)


@pytest.mark.parametrize("function", ["auth.uid()", "auth.is_admin()", "auth.user_role()"])
def test_claim_functions_stay_inlinable(cat, function):
    row = cat.execute(
        "SELECT l.lanname, p.provolatile::text, p.prosecdef, p.proconfig FROM pg_catalog.pg_proc p "
        "JOIN pg_catalog.pg_language l ON l.oid = p.prolang WHERE p.oid = %s::regprocedure",
        (function,)).fetchone()
    assert row == ("sql", "s", False, None), \
        f"{function}: language={row[0]} volatility={row[1]} security_definer={row[2]} proconfig={row[3]}"


def _callers(cat) -> dict[str, set[str]]:
    callers: dict[str, set[str]] = {}
    for role in DEFINER_ALLOW_LIST:
        callers[role] = {name for oid, name, _ in _definer_functions(cat)
                         if cat.execute("SELECT pg_catalog.has_function_privilege(%s, %s::oid, 'EXECUTE')",
                                        (role, oid)).fetchone()[0]}
    return callers


def test_security_definer_functions_follow_the_allow_list(cat):
    callers = _callers(cat)
    wrong = [f"{role} may also execute {sorted(callers[role] - allowed)}" for role, allowed in
             DEFINER_ALLOW_LIST.items() if callers[role] - allowed]
    assert not wrong, "\n".join(wrong)


def test_public_cannot_execute_security_definer_functions(cat):
    public = [name for oid, name, _ in _definer_functions(cat)
              if cat.execute(
                  "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p, "
                  "pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a "
                  "WHERE p.oid = %s AND a.grantee = 0 AND a.privilege_type = 'EXECUTE')", (oid,)).fetchone()[0]]
    assert public == [], f"PUBLIC may execute: {', '.join(public)}"


def test_allow_listed_functions_are_callable(cat):
    """The positive half of the allow-list, which must keep holding once PUBLIC is revoked."""
    callers = _callers(cat)
    for role, allowed in DEFINER_ALLOW_LIST.items():
        assert allowed <= callers[role], f"{role} cannot execute {sorted(allowed - callers[role])}"


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
