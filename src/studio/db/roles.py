"""Cluster-level set-up: the roles of DESIGN.md's privilege table, and the database.

Roles are global to a cluster, so they are created here (by a superuser or a role
with CREATEROLE), not by migrations. Running it again re-asserts every attribute, so a
role that somebody made SUPERUSER or BYPASSRLS by hand is put back (F3, F4).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from studio.config import API_ROLE, OWNER_ROLE, WORKER_ROLE

log = logging.getLogger("studio.db.roles")

# (name, attributes). Only the three LOGIN roles have passwords; none bypasses RLS.
NOLOGIN_ROLES = {
    "anon": "NOLOGIN NOINHERIT",
    "authenticated": "NOLOGIN NOINHERIT",
    # Owns the SECURITY DEFINER functions of the auth schema (signup, login, ...).
    "studio_auth": "NOLOGIN NOINHERIT",
    # Owns the system triggers (generation events, the storage outbox) and the metrics
    # functions. INHERIT for its one membership, pg_read_all_stats: the metrics read
    # other sessions' activity and pg_stat_statements (0017). Nobody logs in as it.
    "studio_system": "NOLOGIN INHERIT",
}
LOGIN_ROLES = {
    # Migrations only. NOINHERIT: its membership in studio_auth exists only so it can
    # hand functions over, not to use studio_auth's policies.
    OWNER_ROLE: "LOGIN NOINHERIT",
    # The API: may do nothing itself, only SET ROLE anon / authenticated.
    API_ROLE: "LOGIN NOINHERIT",
    WORKER_ROLE: "LOGIN NOINHERIT",
}
RUNTIME_ROLES = (API_ROLE, WORKER_ROLE, "anon", "authenticated", "studio_auth", "studio_system")
ALWAYS = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"

# The login role's own attributes: the API refuses to serve as a role that could bypass
# row-level security (app.refuse_unsafe_role). Shared with the async pools (scopes.py).
ROLE_ATTRIBUTES_SQL = ("SELECT current_user AS name, rolsuper, rolbypassrls, rolinherit"
                       "  FROM pg_catalog.pg_roles WHERE rolname = current_user")


def role_attributes(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """name, rolsuper, rolbypassrls and rolinherit of the role `conn` logged in as."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(ROLE_ATTRIBUTES_SQL).fetchone()
    assert row is not None
    return row


def bootstrap(admin_conninfo: str, *, db_name: str, passwords: Mapping[str, str | None]) -> None:
    """Create or repair roles and the database. `passwords` maps each LOGIN role to its
    password. Idempotent."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        for name, attrs in NOLOGIN_ROLES.items():
            _ensure_role(conn, name, attrs, None)
        for name, attrs in LOGIN_ROLES.items():
            _ensure_role(conn, name, attrs, passwords[name])
        conn.execute(sql.SQL("GRANT anon, authenticated TO {}").format(sql.Identifier(API_ROLE)))
        conn.execute(sql.SQL("GRANT studio_auth, studio_system TO {}").format(sql.Identifier(OWNER_ROLE)))
        _grant_stats_reader(conn)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                sql.Identifier(db_name), sql.Identifier(OWNER_ROLE)))
        grant_connect(conn, db_name)
    # NOINHERIT keeps studio_owner from acting through pg_database_owner, so it owns
    # the public schema outright.
    with psycopg.connect(admin_conninfo, dbname=db_name, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
        _create_statement_statistics(conn, db_name)


def _grant_stats_reader(conn: psycopg.Connection) -> None:
    """studio_system reads every session's activity and statement statistics for the
    metrics (0017). A CREATEROLE login without ADMIN on pg_read_all_stats (PostgreSQL
    16+) cannot grant it: the metrics then show other sessions' states as `unknown` and
    leave out the database size, which is worth a warning, not a failed bootstrap."""
    try:
        conn.execute("GRANT pg_read_all_stats TO studio_system")
    except psycopg.errors.InsufficientPrivilege as exc:
        log.warning("could not grant pg_read_all_stats to studio_system (%s); connection and statement "
                    "metrics will be incomplete until a superuser runs: GRANT pg_read_all_stats TO studio_system",
                    exc.diag.message_primary)


def _create_statement_statistics(conn: psycopg.Connection, db_name: str) -> None:
    """pg_stat_statements in Studio's database, in the public schema where
    public.top_statements() looks for it (the embedded cluster preloads its library).
    Creating it needs a superuser and the contrib files; without either the admin
    statements endpoint answers 503 and everything else works, so a warning suffices."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public")
    except psycopg.Error as exc:
        log.warning("could not create the pg_stat_statements extension in %s (%s); a superuser can run: "
                    "CREATE EXTENSION pg_stat_statements SCHEMA public", db_name, exc.diag.message_primary)


def grant_connect(conn: psycopg.Connection, db_name: str) -> None:
    """Only Studio's roles may connect to its database."""
    conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db_name)))
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}, {}").format(
        sql.Identifier(db_name), sql.Identifier(OWNER_ROLE), sql.Identifier(API_ROLE), sql.Identifier(WORKER_ROLE)))


def _ensure_role(conn: psycopg.Connection, name: str, attrs: str, password: str | None) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
    # Attributes are constants of this module; the password is quoted by psycopg.
    statement = sql.SQL("{} {} {} {}").format(verb, sql.Identifier(name), sql.SQL(attrs), sql.SQL(ALWAYS))
    if password is not None:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    conn.execute(statement)
