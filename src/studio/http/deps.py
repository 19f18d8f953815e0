"""FastAPI dependencies shared by every domain's endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from studio.auth import tokens
from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.config import Settings
from studio.db.scopes import ApiDatabase
from studio.http.errors import ApiError
from studio.monitoring.metrics import Metrics
from studio.providers.registry import Providers
from studio.storage.base import Storage

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def context_of(request: Request) -> RequestContext:
    return RequestContext(
        request_id=request.state.request_id,
        client_ip=request.client.host if request.client else None,
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
    )


async def request_context(request: Request) -> RequestContext:
    """The dependency. async: FastAPI runs a plain `def` dependency in its thread pool,
    a thread hand-off per request for work that takes microseconds."""
    return context_of(request)


# Every dependency is `async def`: FastAPI runs a plain `def` one in its thread pool, a
# thread hand-off per request for work that takes microseconds (bench/results/load.md).


async def get_db(request: Request) -> ApiDatabase:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_providers(request: Request) -> Providers:
    return request.app.state.providers


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


async def get_secret_key(request: Request) -> bytes:
    """The key CSRF tokens are signed with."""
    return request.app.state.secret_key


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_migration_head(request: Request) -> str | None:
    """The schema revision this code expects."""
    return request.app.state.migration_head


async def get_webhook_secrets(request: Request) -> dict[str, bytes]:
    """Each provider's webhook signing key."""
    return getattr(request.app.state, "webhook_secrets", {})


async def credential(request: Request) -> Credential:
    """The caller's credential: `Authorization: Bearer <api key>` (no CSRF needed: a
    browser never adds it by itself), or the session cookie, which on unsafe methods
    must come with the session's CSRF token in X-CSRF-Token (F12)."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "unauthenticated", "use 'Authorization: Bearer <api key>'")
        return Credential("api_key", tokens.token_hash(key.strip()), via_cookie=False)
    token = request.cookies.get(tokens.SESSION_COOKIE)
    if not token:
        raise Unauthenticated
    if request.method not in _SAFE_METHODS and not tokens.csrf_valid(
            request.app.state.secret_key, token, request.headers.get(tokens.CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", "missing or invalid X-CSRF-Token header")
    return Credential("session", tokens.token_hash(token), via_cookie=True)


Db = Annotated[ApiDatabase, Depends(get_db)]
Ctx = Annotated[RequestContext, Depends(request_context)]
Cred = Annotated[Credential, Depends(credential)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ProvidersDep = Annotated[Providers, Depends(get_providers)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SecretKey = Annotated[bytes, Depends(get_secret_key)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
MigrationHead = Annotated[str | None, Depends(get_migration_head)]
WebhookSecrets = Annotated[dict[str, bytes], Depends(get_webhook_secrets)]
