"""Accounts: sign-up, login, logout, the current user and their profile, password change,
API keys, the user's own audit log, and the first admin's one-time setup link."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from studio.auth import repository as repo
from studio.auth import service, tokens
from studio.auth.schemas import (
    SETUP_TOKEN_MAX,
    SIGNUP_NEXT,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    AuditEventPage,
    LoginRequest,
    LoginResponse,
    MeResponse,
    PasswordChange,
    ProfileUpdate,
    RecoveryCodes,
    SetupLinkState,
    SetupRequest,
    SignupAccepted,
    SignupRequest,
    TotpBegin,
    TotpCheck,
    TotpConfirm,
    TotpSecret,
    TotpStatus,
    UserEnvelope,
)
from studio.http.deps import Cred, Ctx, Db, SecretKey, SettingsDep
from studio.http.errors import not_found
from studio.http.openapi import RATE_LIMITED
from studio.http.responses import decode_cursor, json_response, page
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["accounts"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("/auth/signup", status_code=201, response_model=SignupAccepted, responses=RATE_LIMITED)
async def signup(body: SignupRequest, request: Request, db: Db, ctx: Ctx) -> Response:
    """Creates an account, then log in with the same email and password. The answer is
    the same whether or not the email had an account (status, body, headers, and the
    same work, argon2 included): an email with an account gets no new one, and its owner
    a notification instead."""
    await ratelimit.check(request, ratelimit.SIGNUP)  # before any argon2 work
    await service.request_signup(db, ctx, email=body.email, password=body.password, display_name=body.display_name)
    return json_response({"email": body.email, "next": SIGNUP_NEXT}, 201)


def _signed_in(session: service.NewSession, settings: SettingsDep, secret_key: SecretKey) -> Response:
    """A new session's answer: the user, the CSRF token and the HttpOnly session cookie;
    never stored by a cache."""
    response = json_response({
        "user": session.user,
        "csrf_token": tokens.csrf_token(secret_key, session.token),
        "expires_at": session.expires_at,
    }, headers=service.NO_STORE)
    response.set_cookie(tokens.SESSION_COOKIE, session.token, max_age=settings.session_ttl_hours * 3600,
                        httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")
    return response


@router.post("/auth/login", response_model=LoginResponse, responses={
    401: {"description": "the email or the password is wrong (invalid_credentials); the account has two-factor "
                         "authentication on and no code was given (second_factor_required), or a wrong or used "
                         "one (invalid_second_factor)"},
    429: {"description": "too many failed logins: wait for Retry-After"}})
async def login(body: LoginRequest, db: Db, ctx: Ctx, settings: SettingsDep, secret_key: SecretKey) -> Response:
    """A session (cookie) and its CSRF token. With two-factor authentication on, the
    same request also carries `totp_code` (or `recovery_code`); without it the answer is
    401 second_factor_required, and the client asks for the code and sends all again."""
    session = await service.login(db, ctx, settings, email=body.email, password=body.password,
                                  totp_code=body.totp_code, recovery_code=body.recovery_code)
    return _signed_in(session, settings, secret_key)


_SETUP_REFUSED: dict[int | str, dict[str, Any]] = {404: {"description": "the link is unknown or replaced (code not_found), already used "
                                       "(setup_link_used), or an admin exists already (setup_complete)"}}


@router.get("/setup/{token}", response_model=SetupLinkState, responses=_SETUP_REFUSED)
async def check_setup_link(db: Db, ctx: Ctx,
                           token: Annotated[str, PathParam(min_length=1, max_length=SETUP_TOKEN_MAX)]) -> Response:
    """Can this one-time setup link create the first admin? For the setup page, before it
    asks for a password."""
    await service.check_setup_link(db, ctx, token=token)
    return json_response({"valid": True}, headers=service.NO_STORE)


@router.post("/setup", response_model=LoginResponse,
             responses={**_SETUP_REFUSED, 409: {"description": "an account with this email exists already"}})
async def setup_admin(body: SetupRequest, db: Db, ctx: Ctx, settings: SettingsDep, secret_key: SecretKey) -> Response:
    """Creates the first admin with the one-time setup link that `studio up` prints while
    the installation has no admin, and signs them in: the same answer and session cookie
    as POST /v1/auth/login. The link works once."""
    session = await service.setup_admin(db, ctx, settings, token=body.token, email=body.email,
                                        password=body.password, display_name=body.display_name)
    return _signed_in(session, settings, secret_key)


@router.post("/auth/logout", status_code=204,
             responses={400: {"description": "called with an API key: keys are revoked with DELETE /v1/api-keys/{id}"}})
async def logout(db: Db, ctx: Ctx, cred: Cred) -> Response:
    await service.logout(db, ctx, cred)
    response = Response(status_code=204)
    response.delete_cookie(tokens.SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeResponse)
async def me(request: Request, db: Db, ctx: Ctx, cred: Cred, secret_key: SecretKey) -> Response:
    async with db.as_user(cred, ctx) as tx:
        user = await repo.get_me(tx)
    token = request.cookies.get(tokens.SESSION_COOKIE) if cred.via_cookie else None
    csrf = tokens.csrf_token(secret_key, token) if token else None
    return json_response({"user": user, "csrf_token": csrf}, headers=service.NO_STORE)


@router.patch("/me", response_model=UserEnvelope)
async def update_me(body: ProfileUpdate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Your profile: the display name (trimmed; null removes it)."""
    user = await service.update_profile(db, ctx, cred, display_name=body.display_name)
    return json_response({"user": user})


@router.post("/me/password", status_code=204,
             responses={401: {"description": "the current password is wrong (counted as a failed login)"},
                        429: {"description": "too many wrong passwords: wait for Retry-After"}})
async def change_password(body: PasswordChange, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Sets a new password once the current one is confirmed. Every other session of
    yours ends; the one making this request keeps working, and so do your API keys unless
    `end_api_keys` is true. Recorded in your audit log as password.changed (and each
    revoked key as api_key.revoked)."""
    await service.change_password(db, ctx, settings, cred, current_password=body.current_password,
                                  new_password=body.new_password, end_api_keys=body.end_api_keys)
    return Response(status_code=204)


_TOTP_CHECK: dict[int | str, dict[str, Any]] = {
    401: {"description": "the password (invalid_credentials) or the code (invalid_second_factor) is wrong"},
    409: {"description": "two-factor authentication is not on"},
    429: {"description": "too many wrong passwords or codes: wait for Retry-After"}}


@router.get("/me/totp", response_model=TotpStatus)
async def totp_status(db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Whether your two-factor authentication is on, how many recovery codes are left,
    and whether this installation requires it of you (admins, STUDIO_ADMIN_TOTP_REQUIRED)."""
    return json_response(await service.totp_status(db, ctx, settings, cred))


@router.post("/me/totp", status_code=201, response_model=TotpSecret, responses={
    401: {"description": "the password is wrong"}, 409: {"description": "two-factor authentication is on already"},
    429: {"description": "too many wrong passwords: wait for Retry-After"}})
async def begin_totp(body: TotpBegin, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Step 1 of turning two-factor authentication on: a new secret for your
    authenticator app (scan `uri` as a QR code, or type `secret`). Nothing changes at
    login until step 2 confirms it with a first code. Not cached (Cache-Control: no-store)."""
    enrollment = await service.begin_totp(db, ctx, settings, cred, password=body.password)
    return json_response({"secret": enrollment.secret, "uri": enrollment.uri}, 201, headers=service.NO_STORE)


@router.post("/me/totp/confirm", response_model=RecoveryCodes, responses={
    409: {"description": "nothing to confirm (step 1 first)"}})
async def confirm_totp(body: TotpConfirm, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Step 2: the app's current code turns two-factor authentication on. The answer
    holds ten recovery codes, shown this once: each signs in once instead of a code.
    Recorded in your audit log as totp.enabled."""
    codes = await service.confirm_totp(db, ctx, cred, code=body.code)
    return json_response({"recovery_codes": codes}, headers=service.NO_STORE)


@router.post("/me/totp/recovery-codes", response_model=RecoveryCodes, responses=_TOTP_CHECK)
async def replace_recovery_codes(body: TotpCheck, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Ten new recovery codes, with your password and a current code; the old ones stop working."""
    codes = await service.replace_recovery_codes(db, ctx, settings, cred, password=body.password, code=body.code)
    return json_response({"recovery_codes": codes}, headers=service.NO_STORE)


@router.delete("/me/totp", status_code=204, responses=_TOTP_CHECK)
async def disable_totp(body: TotpCheck, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Turns two-factor authentication off, with your password and a current code (or a
    recovery code). Recorded in your audit log as totp.disabled."""
    await service.disable_totp(db, ctx, settings, cred, password=body.password, code=body.code)
    return Response(status_code=204)


@router.get("/me/audit-log", response_model=AuditEventPage)
async def list_audit_log(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 50, cursor: str | None = None) -> Response:
    """Your security events, newest first: sign-up, logins (also failed ones), logouts and
    ended sessions, password changes, API keys and shares created or revoked, exports,
    admin actions on your account."""
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_audit_events(tx, after=after, limit=limit)
    return json_response(page(rows, limit))


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """A new API key. The answer holds its secret, shown this once and never stored by a
    cache (Cache-Control: no-store); `expires_at`, if given, must be in the future."""
    row, key = await service.create_api_key(db, ctx, cred, name=body.name, expires_at=body.expires_at)
    return json_response({"api_key": row, "key": key}, 201, headers=service.NO_STORE)


@router.get("/api-keys", response_model=ApiKeyPage)
async def list_api_keys(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 50, cursor: str | None = None) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_api_keys(tx, after=after, limit=limit)
    return json_response(page(rows, limit))


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        revoked = await repo.revoke_api_key(tx, key_id=key_id)
    if not revoked:
        raise not_found("API key")
    return Response(status_code=204)
