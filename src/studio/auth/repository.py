"""Accounts SQL. Every statement is parameterized; the scope decides who runs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from studio.db.scopes import AnonScope, UserScope


def set_user_role_direct(conn: psycopg.Connection[Any], *, email: str, role: str) -> None:
    """The operators' path to a role (auth.set_user_role, recorded as admin.action), on
    studio_owner's own login (`studio user create --admin`)."""
    conn.execute("SELECT auth.set_user_role(%s, %s)", (email, role))


def issue_setup_token_direct(conn: psycopg.Connection[Any], *, token_hash: bytes) -> bool:
    """A new one-time setup link's token (its hash), replacing every unused one, unless
    an admin exists (then False and nothing changes). On studio_owner's own login
    (`studio up`, `studio setup-link`)."""
    row = conn.execute("SELECT auth.issue_setup_token(%s)", (token_hash,)).fetchone()
    return bool(row and row[0])


async def signup(tx: AnonScope, *, email: str, password_hash: str, display_name: str | None) -> UUID:
    cur = await tx.conn.execute("SELECT auth.signup(%s, %s, %s) AS id", (email, password_hash, display_name))
    row = await cur.fetchone()
    assert row is not None
    user_id: UUID = row["id"]
    return user_id


async def request_signup(tx: AnonScope, *, email: str, password_hash: str, display_name: str | None) -> bool:
    """The API's sign-up (migration 0031): True when the account was created; False when
    the email has one already, whose owner is then told and nothing else changes."""
    cur = await tx.conn.execute("SELECT auth.request_signup(%s, %s, %s) AS created",
                                (email, password_hash, display_name))
    row = await cur.fetchone()
    assert row is not None
    return bool(row["created"])


async def login_retry_after(tx: AnonScope, *, email: str, max_failures: int, client_max_failures: int,
                            delay_after: int, delay_max_seconds: int, window_seconds: int) -> int:
    """Seconds until this client (the scope's address) may try this email again; 0 now
    (migration 0031: lockouts per client, delays per account)."""
    cur = await tx.conn.execute("SELECT auth.login_retry_after(%s, %s, %s, %s, %s, %s) AS retry_after",
                                (email, max_failures, client_max_failures, delay_after, delay_max_seconds,
                                 window_seconds))
    row = await cur.fetchone()
    assert row is not None
    return int(row["retry_after"])


async def login_credentials(tx: AnonScope, *, email: str) -> tuple[UUID, str] | None:
    cur = await tx.conn.execute("SELECT user_id, password_hash FROM auth.login_credentials(%s)", (email,))
    row = await cur.fetchone()
    return (row["user_id"], row["password_hash"]) if row else None


async def login_failed(tx: AnonScope, *, email: str, window_seconds: int) -> None:
    await tx.conn.execute("SELECT auth.login_failed(%s, %s)", (email, window_seconds))


async def create_session(tx: AnonScope, *, user_id: UUID, token_hash: bytes, expires_at: datetime) -> dict[str, Any]:
    """Creates the session and returns its user, resolved the same way every later
    request will resolve it."""
    await tx.conn.execute("SELECT auth.create_session(%s, %s, %s)", (user_id, token_hash, expires_at))
    cur = await tx.conn.execute(
        "SELECT user_id AS id, email, display_name, role FROM auth.authenticate('session', %s)", (token_hash,))
    row = await cur.fetchone()
    assert row is not None
    return row


async def setup_token_state(tx: AnonScope, *, token_hash: bytes) -> str:
    """'valid', 'used', 'unknown' or 'admin_exists' (migration 0020)."""
    cur = await tx.conn.execute("SELECT auth.setup_token_state(%s) AS state", (token_hash,))
    row = await cur.fetchone()
    assert row is not None
    return str(row["state"])


async def setup_admin(tx: AnonScope, *, token_hash: bytes, email: str, password_hash: str,
                      display_name: str | None) -> tuple[str, UUID | None]:
    """Uses the setup token: ('created', the new admin's id), or (why not, None).
    psycopg.errors.UniqueViolation when the email has an account already."""
    cur = await tx.conn.execute("SELECT state, user_id FROM auth.setup_admin(%s, %s, %s, %s)",
                                (token_hash, email, password_hash, display_name))
    row = await cur.fetchone()
    assert row is not None
    return str(row["state"]), row["user_id"]


async def get_me(tx: UserScope) -> dict[str, Any]:
    cur = await tx.conn.execute(
        "SELECT id, email, display_name, role, created_at FROM public.users WHERE id = %s", (tx.user.id,))
    row = await cur.fetchone()
    assert row is not None
    return row


async def update_display_name(tx: UserScope, *, display_name: str | None) -> dict[str, Any] | None:
    """The caller's new display name (RLS: only their own row); None when the account is gone."""
    cur = await tx.conn.execute(
        "UPDATE public.users SET display_name = %s WHERE id = %s"
        " RETURNING id, email, display_name, role, created_at", (display_name, tx.user.id))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def end_session(tx: UserScope, *, session_id: UUID) -> bool:
    cur = await tx.conn.execute("DELETE FROM public.sessions WHERE id = %s RETURNING id", (session_id,))
    return await cur.fetchone() is not None


async def change_password(tx: UserScope, *, password_hash: str) -> bool:
    """Stores the caller's new hash, ends their other sessions and records
    password.changed (migration 0016). False when the account is gone."""
    cur = await tx.conn.execute("SELECT auth.change_password(%s) AS changed", (password_hash,))
    row = await cur.fetchone()
    assert row is not None
    return bool(row["changed"])


async def create_api_key(tx: UserScope, *, name: str, prefix: str, key_hash: bytes,
                         expires_at: datetime | None) -> dict[str, Any]:
    cur = await tx.conn.execute(
        """
        INSERT INTO public.api_keys (user_id, name, prefix, key_hash, expires_at)
        VALUES (%s, %s, %s, %s, %s)
        RETURNING id, name, prefix, created_at, last_used_at, expires_at
        """,
        (tx.user.id, name, prefix, key_hash, expires_at),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


# RLS restricts rows to the caller; the explicit user filter lets the planner walk the
# (user_id, created_at DESC, id DESC) index for a keyset page.
_LIST_API_KEYS_FIRST = """
SELECT id, name, prefix, created_at, last_used_at, expires_at
  FROM public.api_keys
 WHERE user_id = %s AND revoked_at IS NULL
 ORDER BY created_at DESC, id DESC
 LIMIT %s
"""
_LIST_API_KEYS_AFTER = """
SELECT id, name, prefix, created_at, last_used_at, expires_at
  FROM public.api_keys
 WHERE user_id = %s AND revoked_at IS NULL AND (created_at, id) < (%s, %s)
 ORDER BY created_at DESC, id DESC
 LIMIT %s
"""


async def list_api_keys(tx: UserScope, *, after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    if after is None:
        cur = await tx.conn.execute(_LIST_API_KEYS_FIRST, (tx.user.id, limit + 1))
    else:
        cur = await tx.conn.execute(_LIST_API_KEYS_AFTER, (tx.user.id, after[0], after[1], limit + 1))
    return await cur.fetchall()


async def revoke_all_api_keys(tx: UserScope) -> int:
    """Every API key of the caller's still in force, revoked; how many (each recorded in
    the audit log by the api_keys trigger)."""
    cur = await tx.conn.execute(
        "UPDATE public.api_keys SET revoked_at = pg_catalog.now()"
        " WHERE user_id = %s AND revoked_at IS NULL RETURNING id", (tx.user.id,))
    return len(await cur.fetchall())


async def revoke_api_key(tx: UserScope, *, key_id: UUID) -> bool:
    cur = await tx.conn.execute(
        "UPDATE public.api_keys SET revoked_at = pg_catalog.now()"
        " WHERE id = %s AND revoked_at IS NULL RETURNING id", (key_id,))
    return await cur.fetchone() is not None


# The caller's security events, newest first, on the (user_id, created_at DESC, id DESC)
# index. The address leaves as text: host() drops the /32 of an inet.
_LIST_AUDIT_FIRST = """
SELECT id, event, created_at, pg_catalog.host(ip) AS ip, user_agent, details
  FROM public.audit_log
 WHERE user_id = %s
 ORDER BY created_at DESC, id DESC
 LIMIT %s
"""
_LIST_AUDIT_AFTER = """
SELECT id, event, created_at, pg_catalog.host(ip) AS ip, user_agent, details
  FROM public.audit_log
 WHERE user_id = %s AND (created_at, id) < (%s, %s)
 ORDER BY created_at DESC, id DESC
 LIMIT %s
"""


async def list_audit_events(tx: UserScope, *, after: tuple[datetime, UUID] | None,
                            limit: int) -> list[dict[str, Any]]:
    if after is None:
        cur = await tx.conn.execute(_LIST_AUDIT_FIRST, (tx.user.id, limit + 1))
    else:
        cur = await tx.conn.execute(_LIST_AUDIT_AFTER, (tx.user.id, after[0], after[1], limit + 1))
    return await cur.fetchall()


# --- two-factor authentication (migration 0032) -------------------------------------

async def _flag(tx: AnonScope | UserScope, sql: str, params: tuple[Any, ...]) -> bool:
    cur = await tx.conn.execute(sql, params)
    row = await cur.fetchone()
    assert row is not None
    return bool(row["ok"])


async def totp_begin(tx: UserScope, *, secret: str) -> bool:
    """A new, unconfirmed factor for the caller; False while a confirmed one exists."""
    return await _flag(tx, "SELECT auth.totp_begin(%s) AS ok", (secret,))


async def totp_pending(tx: UserScope) -> str | None:
    cur = await tx.conn.execute("SELECT auth.totp_pending() AS secret")
    row = await cur.fetchone()
    return row["secret"] if row else None


async def totp_confirm(tx: UserScope, *, step: int, recovery_hashes: list[str]) -> bool:
    return await _flag(tx, "SELECT auth.totp_confirm(%s, %s) AS ok", (step, recovery_hashes))


async def totp_replace_recovery_codes(tx: UserScope, *, recovery_hashes: list[str]) -> bool:
    return await _flag(tx, "SELECT auth.totp_replace_recovery_codes(%s) AS ok", (recovery_hashes,))


async def totp_disable(tx: UserScope) -> bool:
    return await _flag(tx, "SELECT auth.totp_disable() AS ok", ())


async def totp_status(tx: UserScope) -> dict[str, Any]:
    cur = await tx.conn.execute("SELECT enabled, recovery_codes_left FROM auth.totp_status()")
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def login_totp(tx: AnonScope, *, user_id: UUID) -> tuple[str, int | None] | None:
    """The confirmed factor of the account whose password was just verified: its secret
    and the step of the last accepted code. None when the account has none."""
    cur = await tx.conn.execute("SELECT secret, last_step FROM auth.login_totp(%s) WHERE secret IS NOT NULL",
                                (user_id,))
    row = await cur.fetchone()
    return (row["secret"], row["last_step"]) if row else None


async def login_totp_accept(tx: AnonScope, *, user_id: UUID, step: int) -> bool:
    """Records the step as used; False when it was (a code used twice)."""
    return await _flag(tx, "SELECT auth.login_totp_accept(%s, %s) AS ok", (user_id, step))


async def login_recovery_code(tx: AnonScope, *, user_id: UUID, code_hash: str) -> bool:
    """Uses up the recovery code; False when it is not one of the account's unused ones."""
    return await _flag(tx, "SELECT auth.login_recovery_code(%s, %s) AS ok", (user_id, code_hash))
