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
from studio.auth import strength, tokens, totp
from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.config import Settings
from studio.db.scopes import AnonScope, ApiDatabase, UserScope
from studio.http.errors import ApiError, not_found


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
    """An account created by an operator (`studio user create`) through auth.signup, the
    one path that creates accounts; the new user. The password is hashed before the
    transaction opens. psycopg.errors.UniqueViolation when the email has an account
    already: the operator is told. The public sign-up is `request_signup`."""
    strength.check_new_password(password, personal=(email, display_name))
    password_hash = await tokens.hash_password(password)
    async with db.as_anon(ctx) as tx:
        user_id = await repo.signup(tx, email=email, password_hash=password_hash, display_name=display_name)
    return {"id": user_id, "email": email, "display_name": display_name, "role": "user"}


async def request_signup(db: AnonDatabase, ctx: RequestContext, *, email: str, password: str,
                         display_name: str | None) -> None:
    """The public sign-up, which does not tell whether the email has an account: the same
    work and the same outcome for the caller either way (the strength check, the argon2
    hash, one call of auth.request_signup). A new email gets its account; an email with
    an account gets nothing, and its owner a notification (migration 0031). The caller
    then logs in, which only the right password does."""
    strength.check_new_password(password, personal=(email, display_name))
    password_hash = await tokens.hash_password(password)
    async with db.as_anon(ctx) as tx:
        await repo.request_signup(tx, email=email, password_hash=password_hash, display_name=display_name)


async def _throttled_credentials(db: ApiDatabase, ctx: RequestContext, settings: Settings,
                                 email: str) -> tuple[int, tuple[UUID, str] | None]:
    """Login's throttle for this client (seconds to wait, 0 when none; the rules are the
    database's, docs/decisions/0011-login-throttling.md) and, unless throttled, the
    stored credentials of the email, in one short transaction."""
    async with db.as_anon(ctx) as tx:
        retry_after = await repo.login_retry_after(
            tx, email=email, max_failures=settings.login_max_failures,
            client_max_failures=settings.login_client_max_failures, delay_after=settings.login_delay_after,
            delay_max_seconds=settings.login_delay_max_seconds, window_seconds=settings.login_window_seconds)
        found = None if retry_after else await repo.login_credentials(tx, email=email)
    return retry_after, found


async def login(db: ApiDatabase, ctx: RequestContext, settings: Settings, *, email: str,
                password: str, totp_code: str | None = None, recovery_code: str | None = None) -> NewSession:
    """A new session for the email and password (and, when the account has two-factor
    authentication on, a code from the authenticator app or an unused recovery code),
    or 401 (counted as a failed login), or 429 with Retry-After while the throttle holds
    for this client. A new session clears this client's failures on the account
    (auth.create_session)."""
    # Hashes are verified outside any transaction: argon2 takes tens of milliseconds
    # and must not hold a pooled connection meanwhile.
    retry_after, found = await _throttled_credentials(db, ctx, settings, email)
    if retry_after:
        raise ApiError(429, "rate_limited", f"too many failed logins; try again in {retry_after} s",
                       headers={"Retry-After": str(retry_after)})
    verified = await tokens.verify_password(found[1] if found else None, password)
    token = tokens.new_session_token()
    expires_at = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    failure = ApiError(401, "invalid_credentials", "email or password is wrong")
    async with db.as_anon(ctx) as tx:
        user = None
        if verified and found is not None:
            # The code is used up and the session created in one transaction.
            if await _second_factor_passes(tx, found[0], totp_code, recovery_code):
                user = await repo.create_session(tx, user_id=found[0], token_hash=tokens.token_hash(token),
                                                 expires_at=expires_at)
            else:
                failure = ApiError(401, "invalid_second_factor",
                                   "the code is wrong or was used already; try the next one, or a recovery code")
        if user is None:
            await repo.login_failed(tx, email=email, window_seconds=settings.login_window_seconds)
    if user is None:
        raise failure
    return NewSession(user, token, expires_at)


async def _second_factor_passes(tx: AnonScope, user_id: UUID, totp_code: str | None,
                                recovery_code: str | None) -> bool:
    """True when the account has no second factor, or the code given is good (and now
    used). Without any code for an account that has one: 401 second_factor_required,
    not counted as a failure (the password was right), nothing written."""
    factor = await repo.login_totp(tx, user_id=user_id)
    if factor is None:
        return True
    if not totp_code and not recovery_code:
        raise ApiError(401, "second_factor_required",
                       "enter the code from your authenticator app, or one of your recovery codes")
    if totp_code:
        secret, last_step = factor
        step = totp.matching_step(secret, totp_code, after_step=last_step)
        return step is not None and await repo.login_totp_accept(tx, user_id=user_id, step=step)
    assert recovery_code is not None
    return await repo.login_recovery_code(tx, user_id=user_id, code_hash=totp.recovery_code_hash(recovery_code))


async def reauthenticate(db: ApiDatabase, ctx: RequestContext, settings: Settings, *, user_id: UUID, email: str,
                         password: str) -> None:
    """The password checked as login checks it, under the same throttle: a stolen session
    or key is no way around login's limit on guesses, and a wrong guess counts as a
    failed login. Hashes are verified outside any transaction. For every action that
    asks for the password again (password change, account erasure)."""
    retry_after, found = await _throttled_credentials(db, ctx, settings, email)
    if retry_after:
        raise ApiError(429, "rate_limited", f"too many wrong passwords; try again in {retry_after} s",
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


# --- two-factor authentication ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    secret: str
    uri: str


async def begin_totp(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                     password: str) -> TotpEnrollment:
    """A new secret for the caller's authenticator app, after the password. It is not
    asked for at login until a first code confirms it (confirm_totp). 409 while two-factor
    authentication is on: turn it off first."""
    await confirm_password(db, ctx, settings, cred, password=password)
    secret = totp.new_secret()
    async with db.as_user(cred, ctx) as tx:
        if not await repo.totp_begin(tx, secret=secret):
            raise ApiError(409, "conflict", "two-factor authentication is on already; turn it off first")
        email = tx.user.email
    return TotpEnrollment(secret, totp.provisioning_uri(secret, email))


async def confirm_totp(db: ApiDatabase, ctx: RequestContext, cred: Credential, *, code: str) -> list[str]:
    """Turns two-factor authentication on with a first code from the app; the recovery
    codes, shown this once."""
    codes = totp.new_recovery_codes()
    async with db.as_user(cred, ctx) as tx:
        secret = await repo.totp_pending(tx)
        if secret is None:
            raise ApiError(409, "conflict", "nothing to confirm: start setting up two-factor authentication first")
        step = totp.matching_step(secret, code, after_step=None)
        if step is None:
            raise ApiError(422, "invalid_second_factor", "code: not the app's current code; check the device's clock")
        if not await repo.totp_confirm(tx, step=step, recovery_hashes=[totp.recovery_code_hash(c) for c in codes]):
            raise ApiError(409, "conflict", "nothing to confirm: start setting up two-factor authentication first")
    return codes


async def _check_second_factor(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                               password: str, code: str) -> None:
    """The password and a current code (or an unused recovery code) of the caller: what
    turning two-factor authentication off or replacing the recovery codes asks for. A
    wrong code counts as a failed login."""
    user_id = await confirm_password(db, ctx, settings, cred, password=password)
    async with db.as_anon(ctx) as tx:
        if await repo.login_totp(tx, user_id=user_id) is None:
            raise ApiError(409, "conflict", "two-factor authentication is not on")
        is_totp = code.strip().replace(" ", "").isdigit()
        if await _second_factor_passes(tx, user_id, code if is_totp else None, None if is_totp else code):
            return
    async with db.as_user(cred, ctx) as tx:
        email = tx.user.email
    async with db.as_anon(ctx) as tx:
        await repo.login_failed(tx, email=email, window_seconds=settings.login_window_seconds)
    raise ApiError(401, "invalid_second_factor", "the code is wrong or was used already")


async def disable_totp(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                       password: str, code: str) -> None:
    await _check_second_factor(db, ctx, settings, cred, password=password, code=code)
    async with db.as_user(cred, ctx) as tx:
        await repo.totp_disable(tx)


async def replace_recovery_codes(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                                 password: str, code: str) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    await _check_second_factor(db, ctx, settings, cred, password=password, code=code)
    codes = totp.new_recovery_codes()
    async with db.as_user(cred, ctx) as tx:
        if not await repo.totp_replace_recovery_codes(tx, recovery_hashes=[totp.recovery_code_hash(c) for c in codes]):
            raise ApiError(409, "conflict", "two-factor authentication is not on")
    return codes


async def totp_status(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential) -> dict[str, Any]:
    async with db.as_user(cred, ctx) as tx:
        status = await repo.totp_status(tx)
        admin = tx.user.is_admin
    return status | {"required": admin and settings.admin_totp_required}


async def require_admin(tx: UserScope, settings: Settings) -> None:
    """The gate of the admin endpoints: anyone but an admin gets 404, as if they did not
    exist; with STUDIO_ADMIN_TOTP_REQUIRED, an admin without two-factor authentication
    gets 403 saying what to do (they can still reach their account to turn it on)."""
    if not tx.user.is_admin:
        raise not_found()
    if settings.admin_totp_required and not (await repo.totp_status(tx))["enabled"]:
        raise ApiError(403, "second_factor_required",
                       "admins must turn on two-factor authentication first (account page)")
