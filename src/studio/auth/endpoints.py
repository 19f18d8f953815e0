"""Accounts: sign-up, login, logout, the current user, password change, API keys, and
the user's own audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from studio.auth import repository as repo
from studio.auth import tokens
from studio.auth.identity import RequestContext, Unauthenticated
from studio.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    AuditEventPage,
    LoginRequest,
    LoginResponse,
    MeResponse,
    PasswordChange,
    SignupRequest,
    UserEnvelope,
)
from studio.config import Settings
from studio.db.scopes import ApiDatabase
from studio.http.deps import Cred, Ctx, Db, SettingsDep
from studio.http.errors import ApiError, not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["accounts"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("/auth/signup", status_code=201, response_model=UserEnvelope)
async def signup(body: SignupRequest, request: Request, db: Db, ctx: Ctx) -> Response:
    await ratelimit.check(request, ratelimit.SIGNUP)  # before any argon2 work
    password_hash = await tokens.hash_password(body.password)
    async with db.as_anon(ctx) as tx:
        user_id = await repo.signup(tx, email=body.email, password_hash=password_hash, display_name=body.display_name)
    user = {"id": user_id, "email": body.email, "display_name": body.display_name, "role": "user"}
    return json_response({"user": user}, 201)


@router.post("/auth/login", response_model=LoginResponse)
async def login(body: LoginRequest, request: Request, db: Db, ctx: Ctx, settings: SettingsDep) -> Response:
    # Hashes are verified outside any transaction: argon2 takes tens of milliseconds
    # and must not hold a pooled connection meanwhile.
    async with db.as_anon(ctx) as tx:
        retry_after = await repo.login_retry_after(
            tx, email=body.email, max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds)
        found = None if retry_after else await repo.login_credentials(tx, email=body.email)
    if retry_after:
        raise ApiError(429, "rate_limited", "too many failed logins; try again later",
                       headers={"Retry-After": str(retry_after)})
    verified = await tokens.verify_password(found[1] if found else None, body.password)
    token = tokens.new_session_token()
    expires_at = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    async with db.as_anon(ctx) as tx:
        if not verified or found is None:
            await repo.login_failed(tx, email=body.email, window_seconds=settings.login_window_seconds)
            user = None
        else:
            user = await repo.create_session(tx, user_id=found[0], token_hash=tokens.token_hash(token),
                                             expires_at=expires_at)
    if user is None:
        raise ApiError(401, "invalid_credentials", "email or password is wrong")
    response = json_response({
        "user": user,
        "csrf_token": tokens.csrf_token(request.app.state.secret_key, token),
        "expires_at": expires_at,
    })
    response.set_cookie(tokens.SESSION_COOKIE, token, max_age=settings.session_ttl_hours * 3600,
                        httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")
    return response


@router.post("/auth/logout", status_code=204)
async def logout(db: Db, ctx: Ctx, cred: Cred) -> Response:
    if not cred.via_cookie:
        raise ApiError(400, "not_a_session", "API keys are revoked with DELETE /v1/api-keys/{id}")
    async with db.as_user(cred, ctx) as tx:
        assert tx.user.session_id is not None
        await repo.end_session(tx, session_id=tx.user.session_id)
    response = Response(status_code=204)
    response.delete_cookie(tokens.SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeResponse)
async def me(request: Request, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        user = await repo.get_me(tx)
    token = request.cookies.get(tokens.SESSION_COOKIE) if cred.via_cookie else None
    csrf = tokens.csrf_token(request.app.state.secret_key, token) if token else None
    return json_response({"user": user, "csrf_token": csrf})


async def reauthenticate(db: ApiDatabase, ctx: RequestContext, settings: Settings, *, user_id: UUID, email: str,
                         password: str) -> None:
    """The password checked as login checks it, under the same throttle: a stolen session
    or key is no way around login's limit on guesses, and a wrong guess counts as a
    failed login. Hashes are verified outside any transaction. For every action that
    asks for the password again (password change, account erasure)."""
    async with db.as_anon(ctx) as tx:
        retry_after = await repo.login_retry_after(
            tx, email=email, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds)
        found = None if retry_after else await repo.login_credentials(tx, email=email)
    if retry_after:
        raise ApiError(429, "rate_limited", "too many wrong passwords; try again later",
                       headers={"Retry-After": str(retry_after)})
    stored_hash = found[1] if found is not None and found[0] == user_id else None
    if await tokens.verify_password(stored_hash, password):
        return
    async with db.as_anon(ctx) as tx:
        await repo.login_failed(tx, email=email, window_seconds=settings.login_window_seconds)
    raise ApiError(401, "invalid_credentials", "the password is wrong")


@router.post("/me/password", status_code=204,
             responses={401: {"description": "the current password is wrong (counted as a failed login)"}})
async def change_password(body: PasswordChange, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Sets a new password once the current one is confirmed. Every other session of
    yours ends; the one making this request and your API keys keep working. Recorded in
    your audit log as password.changed."""
    async with db.as_user(cred, ctx) as tx:
        user_id, email = tx.user.id, tx.user.email
    await reauthenticate(db, ctx, settings, user_id=user_id, email=email, password=body.current_password)
    password_hash = await tokens.hash_password(body.new_password)
    async with db.as_user(cred, ctx) as tx:
        if tx.user.id != user_id or not await repo.change_password(tx, password_hash=password_hash):
            raise Unauthenticated  # gone meanwhile (a concurrent erasure)
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
    key = tokens.new_api_key()
    async with db.as_user(cred, ctx) as tx:
        row = await repo.create_api_key(tx, name=body.name, prefix=key[:16], key_hash=tokens.token_hash(key),
                                        expires_at=body.expires_at)
    return json_response({"api_key": row, "key": key}, 201)


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
