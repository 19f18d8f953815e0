"""Catalog lints of Studio's schema, in the spirit of Supabase's splinter: each function
reads pg_catalog and returns the problems it finds, one readable line each (empty: fine).

The same functions serve `studio audit` on a live installation and the test suite
(tests/db/test_catalog.py) on the migrated template, so CI and production apply one
definition of "right".
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import psycopg

from studio.db.connections import scalar

APP_SCHEMAS = ("public", "auth")
CLIENT_ROLES = ("anon", "authenticated")
SERVICE_ROLES = ("studio_worker", "studio_auth", "studio_system")
RUNTIME_ROLES = ("studio_api", "studio_worker", "anon", "authenticated", "studio_auth", "studio_system")
COMMANDS = {"SELECT": "r", "INSERT": "a", "UPDATE": "w", "DELETE": "d"}

# Who may call which SECURITY DEFINER function (0002_accounts.py, 0010_webhooks_shares_limits.py,
# 0012_backup_runs.py, 0014_privacy.py, 0015_retention.py, 0016_audit.py, 0017_metrics.py, 0019_admin_ops.py,
# 0020_setup_tokens.py, 0022_provider_connections.py, 0031_account_defences.py, 0032_two_factor.py).
# Anything beyond this is a function callable "without need".
DEFINER_ALLOW_LIST: dict[str, frozenset[str]] = {
    "anon": frozenset({"auth.signup", "auth.request_signup", "auth.login_retry_after", "auth.login_credentials",
                       "auth.login_failed",
                       "public.provider_connections_runtime", "public.fleet_capabilities",
                       "auth.create_session", "auth.authenticate", "auth.rate_limit_hit", "public.record_webhook",
                       "public.backup_status", "public.metrics_snapshot", "auth.setup_token_state",
                       "auth.setup_admin", "auth.login_totp", "auth.login_totp_accept",
                       "auth.login_recovery_code"}),
    "authenticated": frozenset({"auth.authenticate", "auth.delete_account", "auth.rate_limit_hit",
                                "auth.audit_export", "auth.change_password", "public.top_statements",
                                "public.queue_summary", "auth.totp_begin", "auth.totp_pending",
                                "auth.totp_confirm", "auth.totp_replace_recovery_codes", "auth.totp_disable",
                                "auth.totp_status"}),
    "studio_worker": frozenset({"public.backup_status", "public.notify_admins", "public.apply_retention",
                                "public.provider_connections_runtime"}),
}

_TABLES_SQL = """
SELECT n.nspname || '.' || c.relname
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)
 ORDER BY 1
"""


def tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Every table of the application schemas, Alembic's version table included."""
    return [r[0] for r in conn.execute(_TABLES_SQL, (list(APP_SCHEMAS),)).fetchall()]


# --------------------------------------------------------------------------- row-level security (K1, F5)


def rls_not_forced(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
         ORDER BY 1
        """, (list(APP_SCHEMAS),)).fetchall()
    return [f"{t}: row-level security {'enabled' if e else 'DISABLED'}, {'forced' if f else 'NOT FORCED'}"
            for t, e, f in rows]


def policies_without_rls(conn: psycopg.Connection[Any]) -> list[str]:
    """Policies on a table whose RLS is off protect nothing."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname, count(*)
          FROM pg_catalog.pg_policy p
          JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%s) AND NOT c.relrowsecurity
         GROUP BY 1 ORDER BY 1
        """, (list(APP_SCHEMAS),)).fetchall()
    return [f"{t}: {n} policies, but row-level security is disabled" for t, n in rows]


def privileges_without_policy(conn: psycopg.Connection[Any], roles: tuple[str, ...]) -> list[str]:
    """F5: each command on each table is governed by a policy for the role, or not
    granted to it at all (explicit absence). A grant without policy is RLS without
    policy: it denies everything, which is safe but says the grant is a mistake."""
    rows = conn.execute(
        """
        SELECT t.name, r.role, cmd.command
          FROM pg_catalog.unnest(%(tables)s::text[]) AS t(name)
         CROSS JOIN pg_catalog.unnest(%(roles)s::text[]) AS r(role)
         CROSS JOIN (VALUES ('SELECT', 'r'), ('INSERT', 'a'), ('UPDATE', 'w'), ('DELETE', 'd')) AS cmd(command, code)
         WHERE (pg_catalog.has_table_privilege(r.role, t.name, cmd.command)
                OR (cmd.command <> 'DELETE' AND pg_catalog.has_any_column_privilege(r.role, t.name, cmd.command)))
           AND NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_policy p
                 WHERE p.polrelid = t.name::regclass AND p.polcmd IN (cmd.code, '*')
                   AND (0::oid = ANY(p.polroles) OR r.role::regrole = ANY(p.polroles)))
         ORDER BY 1, 2, 3
        """, {"tables": tables(conn), "roles": list(roles)}).fetchall()
    return [f"{t}: {role} has {command} privilege but no {command} policy applies" for t, role, command in rows]


def always_true_write_policies(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        """
        SELECT schemaname || '.' || tablename, policyname, cmd, roles::text[], qual, with_check
          FROM pg_catalog.pg_policies
         WHERE schemaname = ANY(%s) AND cmd IN ('INSERT', 'UPDATE', 'DELETE', 'ALL')
           AND roles && ARRAY['anon', 'authenticated', 'public']::name[]
         ORDER BY 1, 2
        """, (list(APP_SCHEMAS),)).fetchall()
    return [f"{t}: policy {name} ({cmd} TO {', '.join(roles)}) lets every row through "
            f"(USING {qual!r}, WITH CHECK {check!r})"
            for t, name, cmd, roles, qual, check in rows
            if (qual or "").strip() == "true" or (check or "").strip() == "true"]


def always_true_read_policies(conn: psycopg.Connection[Any]) -> list[str]:
    """A client SELECT policy of `true` on a table whose rows belong to users (it has a
    user_id or owner_id column): every user reads everybody's rows."""
    rows = conn.execute(
        """
        SELECT p.schemaname || '.' || p.tablename, p.policyname, p.cmd, p.roles::text[]
          FROM pg_catalog.pg_policies p
         WHERE p.schemaname = ANY(%s) AND p.cmd IN ('SELECT', 'ALL')
           AND p.roles && ARRAY['anon', 'authenticated', 'public']::name[]
           AND pg_catalog.btrim(COALESCE(p.qual, 'true')) = 'true'
           AND EXISTS (SELECT 1 FROM information_schema.columns c
                        WHERE c.table_schema = p.schemaname AND c.table_name = p.tablename
                          AND c.column_name IN ('user_id', 'owner_id'))
         ORDER BY 1, 2
        """, (list(APP_SCHEMAS),)).fetchall()
    return [f"{t}: policy {name} ({cmd} TO {', '.join(roles)}) shows every user's rows (USING true)"
            for t, name, cmd, roles in rows]


# The privileges the API's client roles need, pinned (one line each: "role table
# PRIVILEGE", or "role table PRIVILEGE (column)" for a column grant). tests/db keeps it
# equal to what the migrations grant, so a new grant is a decision someone wrote down.
CLIENT_GRANTS_FILE = Path(__file__).with_name("client_grants.txt")


@cache
def needed_client_grants() -> frozenset[str]:
    lines = CLIENT_GRANTS_FILE.read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def client_grants(conn: psycopg.Connection[Any]) -> set[str]:
    """What anon, authenticated and PUBLIC may do to the application's tables: table
    privileges and column privileges, each as a line of CLIENT_GRANTS_FILE."""
    rows = conn.execute(
        """
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
               n.nspname || '.' || c.relname, a.privilege_type, NULL::text
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,
               LATERAL pg_catalog.aclexplode(c.relacl) a
         WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
        UNION ALL
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
               n.nspname || '.' || c.relname, a.privilege_type, att.attname::text
          FROM pg_catalog.pg_attribute att
          JOIN pg_catalog.pg_class c ON c.oid = att.attrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,
               LATERAL pg_catalog.aclexplode(att.attacl) a
         WHERE n.nspname = ANY(%(schemas)s) AND att.attnum > 0 AND NOT att.attisdropped
        """, {"schemas": list(APP_SCHEMAS)}).fetchall()
    return {f"{role} {table} {privilege}" + (f" ({column})" if column else "")
            for role, table, privilege, column in rows if role in ("PUBLIC", *CLIENT_ROLES)}


def client_grants_beyond_need(conn: psycopg.Connection[Any]) -> list[str]:
    """A grant to a client role the API does not need: each is a door a policy alone
    then keeps shut, and one careless policy opens."""
    problems = []
    for grant in sorted(client_grants(conn) - needed_client_grants()):
        role, table, privilege, *column = grant.split(" ", 3)
        on = f"{table}{' ' + column[0] if column else ''}"
        problems.append(f"{role} has {privilege} on {on}, which the API does not need")
    return problems


def write_policy_count(conn: psycopg.Connection[Any]) -> int:
    """How many write policies for clients exist (a lint over none would be vacuous)."""
    return scalar(
        conn, "SELECT count(*) FROM pg_catalog.pg_policies WHERE schemaname = ANY(%s)"
        " AND cmd IN ('INSERT', 'UPDATE', 'DELETE', 'ALL') AND roles && ARRAY['anon', 'authenticated']::name[]",
        (list(APP_SCHEMAS),))


def multiple_permissive_policies(conn: psycopg.Connection[Any]) -> list[str]:
    """Several permissive policies for one role and command are ORed and each is
    evaluated for every row: usually one policy with OR is faster and clearer (F18)."""
    rows = conn.execute(
        """
        SELECT schemaname || '.' || tablename, role, cmd, pg_catalog.array_agg(policyname ORDER BY policyname)
          FROM pg_catalog.pg_policies, pg_catalog.unnest(roles) AS role
         WHERE schemaname = ANY(%s) AND permissive = 'PERMISSIVE'
         GROUP BY 1, 2, 3 HAVING count(*) > 1
         ORDER BY 1, 2, 3
        """, (list(APP_SCHEMAS),)).fetchall()
    return [f"{t}: {len(names)} permissive {cmd} policies for {role} ({', '.join(names)})"
            for t, role, cmd, names in rows]


_AUTH_CALL = re.compile(r"auth\.(uid|is_admin|user_role)\(\)")


def unwrapped_auth_calls(conn: psycopg.Connection[Any]) -> tuple[list[str], int]:
    """F18: `auth.uid()` in a policy is evaluated per row unless wrapped in a subselect,
    which the planner runs once (an initPlan). Returns (problems, calls seen)."""
    rows = conn.execute(
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
                bare.append(f"{table}: policy {policy} {clause} calls {match.group(0)} unwrapped")
    return bare, calls


# --------------------------------------------------------------------------- indexes (F6)


def unindexed_foreign_keys(conn: psycopg.Connection[Any]) -> tuple[list[str], int]:
    """Foreign keys without an index leading with their columns: deletes of the parent
    scan the child, and joins/policies on them are slow. Returns (problems, keys seen)."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname, k.conname,
               (SELECT pg_catalog.array_agg(a.attname ORDER BY u.ord)
                  FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),
               EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                        WHERE i.indrelid = k.conrelid AND i.indpred IS NULL AND i.indisvalid
                          AND (SELECT pg_catalog.array_agg(x ORDER BY x)
                                 FROM pg_catalog.unnest((i.indkey::int2[])[0:pg_catalog.cardinality(k.conkey) - 1]) x)
                            = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(k.conkey) x))
          FROM pg_catalog.pg_constraint k
          JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE k.contype = 'f' AND n.nspname = ANY(%s)
         ORDER BY 1, 2
        """, (list(APP_SCHEMAS),)).fetchall()
    return ([f"{t}: foreign key {name} ({', '.join(cols)}) has no index leading with it"
             for t, name, cols, indexed in rows if not indexed], len(rows))


def duplicate_indexes(conn: psycopg.Connection[Any]) -> list[str]:
    """Indexes identical in columns, operator classes, expressions and predicate: each
    costs every write and buys nothing."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname, pg_catalog.array_agg(x.indexrelid::regclass::text ORDER BY 1)
          FROM pg_catalog.pg_index x
          JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%s)
         GROUP BY 1, x.indkey::text, x.indclass::text, pg_catalog.pg_get_expr(x.indexprs, x.indrelid),
                  pg_catalog.pg_get_expr(x.indpred, x.indrelid)
        HAVING count(*) > 1
         ORDER BY 1
        """, (list(APP_SCHEMAS),)).fetchall()
    return [f"{t}: duplicate indexes {', '.join(names)}" for t, names in rows]


# --------------------------------------------------------------------------- roles (F3, F4)


def runtime_roles_bypassing_rls(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_catalog.pg_roles"
        " WHERE rolname = ANY(%s) AND (rolsuper OR rolbypassrls) ORDER BY 1", (list(RUNTIME_ROLES),)).fetchall()
    return [f"{name} is {'SUPERUSER' if s else ''}{' and ' if s and b else ''}{'BYPASSRLS' if b else ''}"
            for name, s, b in rows]


def api_role_problems(conn: psycopg.Connection[Any]) -> list[str]:
    """studio_api can log in and do nothing but switch to anon or authenticated."""
    problems = []
    row = conn.execute("SELECT rolinherit, rolcanlogin, rolcreaterole, rolcreatedb FROM pg_catalog.pg_roles"
                       " WHERE rolname = 'studio_api'").fetchone()
    if row is None:
        return ["the role studio_api does not exist"]
    inherit, _, createrole, createdb = row
    if inherit:
        problems.append("studio_api is INHERIT: it holds anon's and authenticated's privileges without switching")
    if createrole or createdb:
        problems.append("studio_api may create roles or databases")
    member_of = {r[0] for r in conn.execute(
        "SELECT m.roleid::regrole::text FROM pg_catalog.pg_auth_members m WHERE m.member = 'studio_api'::regrole")}
    if member_of != {"anon", "authenticated"}:
        problems.append(f"studio_api may switch to {sorted(member_of)}, expected exactly anon and authenticated")
    for role in ("anon", "authenticated", "studio_worker"):
        extra = [r[0] for r in conn.execute(
            "SELECT m.roleid::regrole::text FROM pg_catalog.pg_auth_members m WHERE m.member = %s::regrole",
            (role,))]
        if extra:
            problems.append(f"{role} is a member of {', '.join(sorted(extra))}")
    return problems


def privileged_logins(conn: psycopg.Connection[Any]) -> list[str]:
    """Login roles that can bypass row-level security (listed, not a problem by itself)."""
    return [r[0] for r in conn.execute(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE rolcanlogin AND (rolsuper OR rolbypassrls) ORDER BY 1")]


# --------------------------------------------------------------------------- functions


def definer_functions(conn: psycopg.Connection[Any]) -> list[tuple[int, str, list[str] | None]]:
    return conn.execute(
        """
        SELECT p.oid, n.nspname || '.' || p.proname, p.proconfig
          FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname = ANY(%s)
         ORDER BY 2
        """, (list(APP_SCHEMAS),)).fetchall()


def definer_without_search_path(conn: psycopg.Connection[Any]) -> list[str]:
    return [f"{name} runs as its owner without SET search_path" for _, name, config in definer_functions(conn)
            if not any(c.startswith("search_path=") for c in (config or []))]


def definer_callers(conn: psycopg.Connection[Any], role: str) -> set[str]:
    return {r[0] for r in conn.execute(
        """
        SELECT n.nspname || '.' || p.proname
          FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname = ANY(%s) AND pg_catalog.has_function_privilege(%s, p.oid, 'EXECUTE')
        """, (list(APP_SCHEMAS), role))}


def definer_callable_without_need(conn: psycopg.Connection[Any]) -> list[str]:
    problems = [f"PUBLIC may execute {name}" for name in sorted(
        r[0] for r in conn.execute(
            """
            SELECT n.nspname || '.' || p.proname
              FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace,
                   pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
             WHERE p.prosecdef AND n.nspname = ANY(%s) AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
            """, (list(APP_SCHEMAS),)))]
    for role, allowed in DEFINER_ALLOW_LIST.items():
        extra = definer_callers(conn, role) - allowed
        if extra:
            problems.append(f"{role} may execute {', '.join(sorted(extra))} without need")
    return problems


_DYNAMIC_SQL = re.compile(r"\bEXECUTE\b(?!\s+FUNCTION)", re.IGNORECASE)


def dynamic_sql_built_from_strings(conn: psycopg.Connection[Any]) -> list[str]:
    """K2 inside the database: plpgsql that EXECUTEs a string must quote what it splices
    in (format's %I/%L, quote_ident/quote_literal) or pass values with USING."""
    problems = []
    for name, source in conn.execute(
            """
            SELECT n.nspname || '.' || p.proname, p.prosrc
              FROM pg_catalog.pg_proc p
              JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE n.nspname = ANY(%s) AND l.lanname = 'plpgsql'
            """, (list(APP_SCHEMAS),)):
        for statement in source.split(";"):
            if not _DYNAMIC_SQL.search(statement):
                continue
            splices = "||" in statement or re.search(r"%s", statement)
            quoted = re.search(r"USING|%I|%L|quote_ident|quote_literal|quote_nullable", statement)
            if splices and not quoted:
                problems.append(f"{name}: EXECUTE of a string built by concatenation: {' '.join(statement.split())[:120]}")
    return problems


# --------------------------------------------------------------------------- table shape (K3, F16)


def tables_without_primary_key(conn: psycopg.Connection[Any]) -> list[str]:
    return [f"{t}: no primary key" for (t,) in conn.execute(
        """
        SELECT n.nspname || '.' || c.relname
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
         ORDER BY 1
        """, (list(APP_SCHEMAS),))]


def tables_without_created_at(conn: psycopg.Connection[Any]) -> list[str]:
    return [f"{t}: no created_at timestamptz column" for (t,) in conn.execute(
        """
        SELECT n.nspname || '.' || c.relname
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s) AND c.relname <> 'alembic_version'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = 'created_at' AND NOT a.attisdropped
                              AND a.atttypid = 'timestamptz'::regtype)
         ORDER BY 1
        """, (list(APP_SCHEMAS),))]


def text_length_limits(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    """(table, column) -> the largest length a CHECK constraint allows, for constraints
    of the form `length(col) <= N` or `char_length(col) BETWEEN a AND N`."""
    limits: dict[tuple[str, str], int] = {}
    pattern = re.compile(r"(?:char_)?length\((\w+)\) (?:<= (\d+)|BETWEEN \d+ AND (\d+))")
    for table, definition in conn.execute(
            """
            SELECT n.nspname || '.' || c.relname, pg_catalog.pg_get_constraintdef(k.oid)
              FROM pg_catalog.pg_constraint k
              JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE k.contype = 'c' AND n.nspname = ANY(%s)
            """, (list(APP_SCHEMAS),)):
        for column, le, between in pattern.findall(definition):
            limit = int(le or between)
            key = (table, column)
            limits[key] = min(limit, limits.get(key, limit))
    return limits
