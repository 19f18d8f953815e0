"""Cluster-level set-up: the roles of DESIGN.md's privilege table, and the database.

Roles are global to a cluster, so they are created here (by a superuser or a role
with CREATEROLE), not by migrations. Running it again re-asserts every attribute, so a
role that somebody made SUPERUSER or BYPASSRLS by hand is put back (F3, F4).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from studio.config import API_ROLE, OWNER_ROLE, WORKER_ROLE

# (name, attributes). Only the three LOGIN roles have passwords; none bypasses RLS.
NOLOGIN_ROLES = {
    "anon": "NOLOGIN NOINHERIT",
    "authenticated": "NOLOGIN NOINHERIT",
    # Owns the SECURITY DEFINER functions of the auth schema (signup, login, ...).
    "studio_auth": "NOLOGIN NOINHERIT",
    # Owns the system triggers (generation events, the storage outbox).
    "studio_system": "NOLOGIN NOINHERIT",
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


def bootstrap(admin_conninfo: str, *, db_name: str, passwords: dict[str, str]) -> None:
    """Create or repair roles and the database. `passwords` maps each LOGIN role to its
    password. Idempotent."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        for name, attrs in NOLOGIN_ROLES.items():
            _ensure_role(conn, name, attrs, None)
        for name, attrs in LOGIN_ROLES.items():
            _ensure_role(conn, name, attrs, passwords[name])
        conn.execute(sql.SQL("GRANT anon, authenticated TO {}").format(sql.Identifier(API_ROLE)))
        conn.execute(sql.SQL("GRANT studio_auth, studio_system TO {}").format(sql.Identifier(OWNER_ROLE)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                sql.Identifier(db_name), sql.Identifier(OWNER_ROLE)))
        grant_connect(conn, db_name)
    # NOINHERIT keeps studio_owner from acting through pg_database_owner, so it owns
    # the public schema outright.
    with psycopg.connect(admin_conninfo, dbname=db_name, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))


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
