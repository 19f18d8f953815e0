"""Accounts' rules: sign-up, login and its throttle, re-authentication, password change,
logout, API keys, the profile, the first admin by one-time setup link. Called by the endpoints and the CLI; the service opens its own scopes
from the database it is given and never holds one across argon2 work."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import psycopg
import psycopg.errors

from studio.auth import repository as repo
from studio.auth import strength, tokens
from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.config import Settings
from studio.db.scopes import AnonScope, ApiDatabase
from studio.http.errors import ApiError


class AnonDatabase(Protocol):
    """Where a sign-up runs: the API's pool (ApiDatabase), or studio_api's own login for
    the operator's `studio user create` (db.scopes.DirectApiLogin)."""

    def as_anon(self, ctx: RequestContext) -> AbstractAsyncContextManager[AnonScope]: ...


@dataclass(frozen=True, slots=True)
class NewSession:
    user: dict[str, Any]
    token: str
    expires_at: datetime


async def signup(db: AnonDatabase, ctx: RequestContext, *, email: str, password: str,
                 display_name: str | None) -> dict[str, Any]:
    """The one way an account is created (auth.signup); the new user. The password is
    hashed before the transaction opens. psycopg.errors.UniqueViolation when the email
    has an account already."""
    strength.check_new_password(password, personal=(email, display_name))
    password_hash = await tokens.hash_password(password)
    async with db.as_anon(ctx) as tx:
        user_id = await repo.signup(tx, email=email, password_hash=password_hash, display_name=display_name)
    return {"id": user_id, "email": email, "display_name": display_name, "role": "user"}


async def _throttled_credentials(db: ApiDatabase, ctx: RequestContext, settings: Settings,
                                 email: str) -> tuple[int, tuple[UUID, str] | None]:
    """Login's throttle (seconds to wait, 0 when none) and, unless throttled, the stored
    credentials of the email, in one short transaction."""
    async with db.as_anon(ctx) as tx:
        retry_after = await repo.login_retry_after(
            tx, email=email, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds)
        found = None if retry_after else await repo.login_credentials(tx, email=email)
    return retry_after, found


async def login(db: ApiDatabase, ctx: RequestContext, settings: Settings, *, email: str,
                password: str) -> NewSession:
    """A new session for the email and password, or 401 (counted as a failed login), or
    429 with Retry-After while the throttle holds."""
    # Hashes are verified outside any transaction: argon2 takes tens of milliseconds
    # and must not hold a pooled connection meanwhile.
    retry_after, found = await _throttled_credentials(db, ctx, settings, email)
    if retry_after:
        raise ApiError(429, "rate_limited", "too many failed logins; try again later",
                       headers={"Retry-After": str(retry_after)})
    verified = await tokens.verify_password(found[1] if found else None, password)
    token = tokens.new_session_token()
    expires_at = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    async with db.as_anon(ctx) as tx:
        if not verified or found is None:
            await repo.login_failed(tx, email=email, window_seconds=settings.login_window_seconds)
            user = None
        else:
            user = await repo.create_session(tx, user_id=found[0], token_hash=tokens.token_hash(token),
                                             expires_at=expires_at)
    if user is None:
        raise ApiError(401, "invalid_credentials", "email or password is wrong")
    return NewSession(user, token, expires_at)


async def reauthenticate(db: ApiDatabase, ctx: RequestContext, settings: Settings, *, user_id: UUID, email: str,
                         password: str) -> None:
    """The password checked as login checks it, under the same throttle: a stolen session
    or key is no way around login's limit on guesses, and a wrong guess counts as a
    failed login. Hashes are verified outside any transaction. For every action that
    asks for the password again (password change, account erasure)."""
    retry_after, found = await _throttled_credentials(db, ctx, settings, email)
    if retry_after:
        raise ApiError(429, "rate_limited", "too many wrong passwords; try again later",
                       headers={"Retry-After": str(retry_after)})
    stored_hash = found[1] if found is not None and found[0] == user_id else None
    if await tokens.verify_password(stored_hash, password):
        return
    async with db.as_anon(ctx) as tx:
        await repo.login_failed(tx, email=email, window_seconds=settings.login_window_seconds)
    raise ApiError(401, "invalid_credentials", "the password is wrong")


async def confirm_password(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                           password: str) -> UUID:
    """The caller, re-authenticated with their password (`reauthenticate`); their id,
    which the caller checks again in the scope that acts on it."""
    async with db.as_user(cred, ctx) as tx:
        user_id, email = tx.user.id, tx.user.email
    await reauthenticate(db, ctx, settings, user_id=user_id, email=email, password=password)
    return user_id


async def change_password(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                          current_password: str, new_password: str, end_api_keys: bool = False) -> None:
    """The new password, once the current one is confirmed. Every other session of the
    user ends (auth.change_password, which records password.changed); with
    `end_api_keys`, every API key of theirs is revoked in the same transaction."""
    user_id = await confirm_password(db, ctx, settings, cred, password=current_password)
    async with db.as_user(cred, ctx) as tx:
        me = await repo.get_me(tx)
    strength.check_new_password(new_password, personal=(me["email"], me["display_name"]))
    password_hash = await tokens.hash_password(new_password)
    async with db.as_user(cred, ctx) as tx:
        if tx.user.id != user_id or not await repo.change_password(tx, password_hash=password_hash):
            raise Unauthenticated  # gone meanwhile (a concurrent erasure)
        if end_api_keys:
            await repo.revoke_all_api_keys(tx)


async def logout(db: ApiDatabase, ctx: RequestContext, cred: Credential) -> None:
    """Ends the caller's session. An API key is no session: it is revoked instead."""
    if not cred.via_cookie:
        raise ApiError(400, "not_a_session", "API keys are revoked with DELETE /v1/api-keys/{id}")
    async with db.as_user(cred, ctx) as tx:
        assert tx.user.session_id is not None
        await repo.end_session(tx, session_id=tx.user.session_id)


async def create_api_key(db: ApiDatabase, ctx: RequestContext, cred: Credential, *, name: str,
                         expires_at: datetime | None) -> tuple[dict[str, Any], str]:
    """A new API key of the caller's: its row and the secret, of which only the hash and
    the first 16 characters (the prefix) are stored."""
    key = tokens.new_api_key()
    async with db.as_user(cred, ctx) as tx:
        row = await repo.create_api_key(tx, name=name, prefix=key[:16], key_hash=tokens.token_hash(key),
                                        expires_at=expires_at)
    return row, key


# --------------------------------------------------------------------------- the profile


async def update_profile(db: ApiDatabase, ctx: RequestContext, cred: Credential, *,
                         display_name: str | None) -> dict[str, Any]:
    """The caller's display name (already trimmed and checked by the schema); their user."""
    async with db.as_user(cred, ctx) as tx:
        user = await repo.update_display_name(tx, display_name=display_name)
    if user is None:
        raise Unauthenticated  # gone meanwhile (a concurrent erasure)
    return user


# --------------------------------------------------------------------------- the first admin

# Every answer that carries a setup token's verdict or a new session.
NO_STORE = {"Cache-Control": "no-store"}

_SETUP_REFUSALS = {
    "unknown": ("not_found", ("this setup link is not valid; a newer one may have replaced it "
                              "(`studio setup-link` prints a fresh one)")),
    "used": ("setup_link_used", "this setup link was already used; sign in instead"),
    "admin_exists": ("setup_complete", "Studio has an admin already; sign in instead"),
}


def _setup_refused(state: str) -> ApiError:
    """404 for every link that cannot be used, with a code that says why."""
    code, message = _SETUP_REFUSALS.get(state, _SETUP_REFUSALS["unknown"])
    return ApiError(404, code, message, headers=NO_STORE)


def setup_link(base_url: str, token: str) -> str:
    """The browser app's setup page; the token in the fragment never reaches a server log
    or a Referer header."""
    return f"{base_url.rstrip('/')}/setup#token={token}"


def issue_setup_token(conn: psycopg.Connection[Any]) -> str | None:
    """A fresh one-time setup token (replacing any unused one), or None when the
    installation has an admin already. On studio_owner's login; the caller commits."""
    token = tokens.new_setup_token()
    return token if repo.issue_setup_token_direct(conn, token_hash=tokens.token_hash(token)) else None


async def check_setup_link(db: ApiDatabase, ctx: RequestContext, *, token: str) -> None:
    """Nothing when the link can create the first admin; else 404 saying why."""
    async with db.as_anon(ctx) as tx:
        state = await repo.setup_token_state(tx, token_hash=tokens.token_hash(token))
    if state != "valid":
        raise _setup_refused(state)


async def setup_admin(db: ApiDatabase, ctx: RequestContext, settings: Settings, *, token: str, email: str,
                      password: str, display_name: str | None) -> NewSession:
    """The first admin, created with the setup link's token and signed in as login would
    sign them in. The account, its admin role, the token's use and the session are one
    transaction: a token works once, and two uses at once create one admin at most."""
    # A link that cannot work is refused before any argon2 work.
    await check_setup_link(db, ctx, token=token)
    strength.check_new_password(password, personal=(email, display_name))
    password_hash = await tokens.hash_password(password)
    session_token = tokens.new_session_token()
    expires_at = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    try:
        async with db.as_anon(ctx) as tx:
            state, user_id = await repo.setup_admin(tx, token_hash=tokens.token_hash(token), email=email,
                                                    password_hash=password_hash, display_name=display_name)
            if state != "created" or user_id is None:
                raise _setup_refused(state)
            user = await repo.create_session(tx, user_id=user_id, token_hash=tokens.token_hash(session_token),
                                             expires_at=expires_at)
    except psycopg.errors.UniqueViolation:
        raise ApiError(409, "conflict", "an account with this email exists already; choose another email "
                                        "for the admin", headers=NO_STORE) from None
    return NewSession(user, session_token, expires_at)
