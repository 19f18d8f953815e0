"""The ASGI application: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from studio import web
from studio.auth import endpoints as auth_endpoints
from studio.auth.identity import RequestContext
from studio.catalog import endpoints as catalog_endpoints
from studio.catalog import repository as catalog_repo
from studio.catalog.crypto import CredentialCipher
from studio.catalog.runtime import ConnectionRuntime
from studio.chat import endpoints as chat_endpoints
from studio.config import API_ROLE, Settings
from studio.datasets import endpoints as dataset_endpoints
from studio.db import migrate, roles
from studio.db.scopes import ApiDatabase
from studio.events import endpoints as events_endpoints
from studio.events import listener as events_listener
from studio.fleet import repository as fleet_repo
from studio.gateway import endpoints as gateway_endpoints
from studio.generation import endpoints as generation_endpoints
from studio.health import endpoints as health
from studio.http import deps
from studio.http.errors import install_error_handlers
from studio.http.openapi import document_errors
from studio.http.guard import RequestGuard
from studio.media import endpoints as media_endpoints
from studio.monitoring import endpoints as monitoring_endpoints
from studio.monitoring import logs
from studio.monitoring.metrics import HttpMetrics, Metrics
from studio.notifications import endpoints as notification_endpoints
from studio.privacy import endpoints as privacy_endpoints
from studio.providers.registry import Providers
from studio.sharing import endpoints as sharing_endpoints
from studio.storage.factory import create_storage
from studio.training import endpoints as training_endpoints
from studio.transcription import endpoints as transcription_endpoints
from studio.usage import endpoints as usage_endpoints
from studio.webhooks import endpoints as webhook_endpoints

log = logging.getLogger("studio.app")


class UnsafeDatabaseRole(RuntimeError):
    """The API's database role could bypass row-level security: refuse to serve (F3, F4)."""


def preflight(conninfo: str, *, timeout: float = 10) -> None:
    """Before serving: the database answers, and as a role that cannot bypass RLS.
    `studio api` runs this so that a refusal is one clear line, not a server traceback;
    the lifespan checks again with the pool it will really use."""
    with psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))) as conn:
        attrs = roles.role_attributes(conn)
    refuse_unsafe_role(attrs)


async def check_role(db: ApiDatabase) -> None:
    refuse_unsafe_role(await db.role_attributes())


def refuse_unsafe_role(attrs: dict) -> None:
    if attrs["rolsuper"] or attrs["rolbypassrls"]:
        raise UnsafeDatabaseRole(
            f"refusing to start: the API's database role {attrs['name']!r} is "
            f"{'SUPERUSER' if attrs['rolsuper'] else 'BYPASSRLS'}; connect as {API_ROLE} "
            "(run `studio db bootstrap` to create it)")
    if attrs["rolinherit"]:
        raise UnsafeDatabaseRole(
            f"refusing to start: the API's database role {attrs['name']!r} must be NOINHERIT, "
            "so it holds no privileges until it switches to anon or authenticated")


def create_app(settings: Settings, *, conninfo: str) -> FastAPI:
    """`conninfo` logs in as studio_api; the API is never handed any other credentials."""
    logs.stamp_context_ids()  # log lines carry the request id (monitoring/logs.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = ApiDatabase(conninfo, min_size=settings.pool_min_size, max_size=settings.pool_max_size,
                         timeout=settings.pool_timeout, prepared_statements=settings.prepared_statements)
        await db.open()
        providers = Providers(settings)
        cipher = CredentialCipher(settings.credentials_key.get_secret_value() if settings.credentials_key else None)

        async def load_connections() -> list[dict]:
            async with db.as_anon(RequestContext(request_id="connections")) as tx:
                return await catalog_repo.runtime_connections(tx)

        async def load_fleet() -> frozenset[str]:
            async with db.as_anon(RequestContext(request_id="fleet")) as tx:
                return await fleet_repo.live_capabilities(tx)

        runtime = ConnectionRuntime(providers, cipher, load_connections, settings.direct_conninfo(conninfo),
                                    load_fleet=load_fleet)
        storage = create_storage(settings)
        sampler = None
        try:
            await check_role(db)
            await storage.ensure_buckets()
            await runtime.start()
            app.state.db = db
            app.state.providers = providers
            app.state.connection_runtime = runtime
            app.state.credential_cipher = cipher
            app.state.storage = storage
            if metrics.multiprocess:  # a scrape reaches one process; the others report by themselves
                sampler = asyncio.create_task(_sample_pool_every_second(metrics, db))
            log.info("API process ready", extra={"server": settings.api_server})
            yield
        finally:
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            metrics.process_exited()
            await events_listener.shutdown(app)
            await runtime.stop()
            await providers.aclose()
            await storage.aclose()
            await db.close()

    docs = settings.docs_enabled
    app = FastAPI(title="Studio", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json" if docs else None,
                  description="Multi-modal generation studio. Errors: {\"error\": {\"code\", \"message\"}}.")
    app.state.settings = settings
    app.state.migration_head = migrate.head_revision()
    if settings.secret_key is not None:
        app.state.secret_key = settings.secret_key.get_secret_value().encode()
    else:
        # Development without a configured key: CSRF tokens last until restart.
        # Production refuses to get here (config.Settings).
        log.warning("STUDIO_SECRET_KEY is not set; using a random key for this process")
        app.state.secret_key = secrets.token_bytes(32)

    app.state.webhook_secrets = webhook_endpoints.secrets_from_settings(settings)
    metrics = app.state.metrics = Metrics()
    if settings.env == "production" and not (settings.metrics_token and settings.metrics_token.get_secret_value()):
        # `studio api` and `studio up` refuse this (require_secrets); an app built another way is told.
        log.warning("STUDIO_METRICS_TOKEN is not set: /metrics answers whoever reaches this port "
                    "(aggregates only); set it, or firewall the port")

    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth_endpoints.router)
    app.include_router(chat_endpoints.router)
    app.include_router(generation_endpoints.router)
    app.include_router(catalog_endpoints.router)
    app.include_router(usage_endpoints.router)
    app.include_router(gateway_endpoints.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(events_endpoints.router)
    app.include_router(media_endpoints.router)
    app.include_router(transcription_endpoints.router)
    app.include_router(sharing_endpoints.router)
    app.include_router(notification_endpoints.router)
    app.include_router(dataset_endpoints.router)
    app.include_router(training_endpoints.router)
    app.include_router(privacy_endpoints.router)
    app.include_router(monitoring_endpoints.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    web.install(app, docs=docs)  # last: its fallback answers every path the API does not
    document_errors(app, credential=deps.credential, database=deps.database)

    # Uploads stream raw files, and transcriptions multipart forms, with their own limit
    # (STUDIO_MAX_UPLOAD_BYTES).
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes,
                       raw_body_paths=("/v1/uploads", "/v1/transcriptions", "/openai/v1/audio/transcriptions"),
                       raw_body_routes=(re.compile(r"/v1/datasets/[^/]+/images"),))
    # Outermost: requests RequestGuard refuses are timed and counted too.
    app.add_middleware(HttpMetrics, metrics=metrics)
    if settings.trusted_proxies:
        # The client's address (login throttle, rate limits, audit log) comes from
        # X-Forwarded-For only when the request comes from a proxy named in
        # STUDIO_TRUSTED_PROXIES; anyone else could write any address there. In the app,
        # so that it holds under either server (STUDIO_API_SERVER).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def serve() -> FastAPI:
    """The app of one `studio api` process, built from the environment. Uvicorn calls
    this in each of its STUDIO_API_WORKERS processes; `studio api` has checked the
    settings and the database before starting them."""
    from studio.launcher.deployment import api_conninfo, embedded_credentials_key
    from studio.monitoring import observability

    settings = Settings()
    if not logging.getLogger().handlers:  # a worker process of its own, without the CLI's set-up
        observability.configure_logging(settings)
        observability.init_error_reporting(settings)
    conninfo, secret_key = api_conninfo(settings)
    if secret_key and settings.secret_key is None:
        settings = settings.model_copy(update={"secret_key": SecretStr(secret_key)})
    if settings.credentials_key is None and (credentials_key := embedded_credentials_key(settings)):
        settings = settings.model_copy(update={"credentials_key": SecretStr(credentials_key)})
    return create_app(settings, conninfo=conninfo)


async def _sample_pool_every_second(metrics: Metrics, db: ApiDatabase) -> None:
    while True:
        metrics.sample_pool(db.pool)
        await asyncio.sleep(1)

