"""Accounts: sign-up, login, logout, the current user, API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from studio import ratelimit
from studio.auth import repository as repo
from studio.auth import service
from studio.auth.schemas import (
    ApiKeyCreate, ApiKeyCreated, ApiKeyPage, LoginRequest, LoginResponse, MeResponse, SignupRequest, UserEnvelope,
)
from studio.deps import Cred, Ctx, Db, SettingsDep
from studio.http import ApiError, decode_cursor, json_response, not_found, page

router = APIRouter(prefix="/v1", tags=["accounts"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("/auth/signup", status_code=201, response_model=UserEnvelope)
async def signup(body: SignupRequest, request: Request, db: Db, ctx: Ctx) -> Response:
    await ratelimit.check(request, ratelimit.SIGNUP)  # before any argon2 work
    password_hash = await service.hash_password(body.password)
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
    verified = await service.verify_password(found[1] if found else None, body.password)
    token = service.new_session_token()
    expires_at = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    async with db.as_anon(ctx) as tx:
        if not verified or found is None:
            await repo.login_failed(tx, email=body.email, window_seconds=settings.login_window_seconds)
            user = None
        else:
            user = await repo.create_session(tx, user_id=found[0], token_hash=service.token_hash(token),
                                             expires_at=expires_at)
    if user is None:
        raise ApiError(401, "invalid_credentials", "email or password is wrong")
    response = json_response({
        "user": user,
        "csrf_token": service.csrf_token(request.app.state.secret_key, token),
        "expires_at": expires_at,
    })
    response.set_cookie(service.SESSION_COOKIE, token, max_age=settings.session_ttl_hours * 3600,
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
    response.delete_cookie(service.SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeResponse)
async def me(request: Request, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        user = await repo.get_me(tx)
    token = request.cookies.get(service.SESSION_COOKIE) if cred.via_cookie else None
    csrf = service.csrf_token(request.app.state.secret_key, token) if token else None
    return json_response({"user": user, "csrf_token": csrf})


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    key = service.new_api_key()
    async with db.as_user(cred, ctx) as tx:
        row = await repo.create_api_key(tx, name=body.name, prefix=key[:16], key_hash=service.token_hash(key),
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
