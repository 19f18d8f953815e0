"""FastAPI dependencies shared by every domain's endpoints."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import SecretStr

from studio.auth import tokens
from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.catalog.crypto import CredentialCipher
from studio.catalog.runtime import ConnectionRuntime
from studio.config import Settings
from studio.db.scopes import ApiDatabase
from studio.http.errors import ApiError
from studio.monitoring.metrics import Metrics
from studio.providers.registry import Providers
from studio.storage.base import Storage

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def bearer_matches(request: Request, secret: SecretStr | None) -> bool:
    """Whether the request sends `Authorization: Bearer <secret>` (the metrics token, which
    monitoring systems present for /metrics and /readyz's details). Compared in constant
    time, so the answer's timing does not reveal a prefix. False when no secret is set."""
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        return False
    scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def client_address(request: Request) -> str | None:
    """The client's IP address, or None when there is none to record. Behind a trusted
    proxy (STUDIO_TRUSTED_PROXIES) uvicorn takes it from X-Forwarded-For, which can hold
    anything: a value that is no address is not one (the database stores it as inet)."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


def context_of(request: Request) -> RequestContext:
    return RequestContext(
        request_id=request.state.request_id,
        client_ip=client_address(request),
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
    )


# Every dependency is `async def`: FastAPI runs a plain `def` one in its thread pool, a
# thread hand-off per request for work that takes microseconds (bench/results/load.md).


async def request_context(request: Request) -> RequestContext:
    return context_of(request)


def _app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency handing an endpoint what create_app keeps in `app.state.<name>`."""
    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)
    dependency.__name__ = f"app_state_{name}"
    return dependency


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


database = _app_state("db")
Db = Annotated[ApiDatabase, Depends(database)]
Ctx = Annotated[RequestContext, Depends(request_context)]
Cred = Annotated[Credential, Depends(credential)]
SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
ProvidersDep = Annotated[Providers, Depends(_app_state("providers"))]
# The process's provider connections as they follow the catalog, and the key that encrypts theirs.
ConnectionRuntimeDep = Annotated[ConnectionRuntime, Depends(_app_state("connection_runtime"))]
CipherDep = Annotated[CredentialCipher, Depends(_app_state("credential_cipher"))]
StorageDep = Annotated[Storage, Depends(_app_state("storage"))]
SecretKey = Annotated[bytes, Depends(_app_state("secret_key"))]  # signs CSRF tokens
MetricsDep = Annotated[Metrics, Depends(_app_state("metrics"))]
MigrationHead = Annotated[str | None, Depends(_app_state("migration_head"))]  # the schema this code expects
WebhookSecrets = Annotated[dict[str, bytes], Depends(_app_state("webhook_secrets"))]
