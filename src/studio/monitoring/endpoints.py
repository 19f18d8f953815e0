"""GET /metrics (Prometheus), and for admins GET /v1/admin/statements (pg_stat_statements)
and GET /v1/admin/ops (the ops page's summary)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from studio.auth import service as auth
from studio.http.deps import Cred, Ctx, Db, MetricsDep, MigrationHead, SettingsDep, bearer_matches
from studio.http.errors import ApiError, error_response
from studio.http.responses import json_response
from studio.monitoring import repository as repo
from studio.monitoring import service
from studio.monitoring.metrics import CONTENT_TYPE, database_families
from studio.monitoring.schemas import OpsSummary

log = logging.getLogger("studio.monitoring")

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
                       401: {"description": "STUDIO_METRICS_TOKEN is set and not sent as the bearer token"}})
async def metrics(request: Request, db: Db, ctx: Ctx, settings: SettingsDep, registry: MetricsDep) -> Response:
    """Aggregates only (counts, ages, durations, ratios): no user's data, no query text.
    The database part comes from one call of public.metrics_snapshot() in an anon
    scope; if the database cannot answer, the rest is still reported with
    studio_database_up 0."""
    # With STUDIO_METRICS_TOKEN set (production requires it), only its bearer may scrape.
    if settings.metrics_token and not bearer_matches(request, settings.metrics_token):
        return error_response(401, "unauthenticated", "send 'Authorization: Bearer <metrics token>'",
                              headers={"WWW-Authenticate": "Bearer"})
    snapshot = None
    try:
        async with db.as_anon(ctx) as tx:
            snapshot = await repo.metrics_snapshot(tx)
    except Exception:  # a scrape reports the database as down; it does not fail
        log.warning("metrics snapshot failed", exc_info=True)
    registry.sample_pool(db.pool)
    body = registry.render(database_families(snapshot, backup_enabled=settings.backup_enabled))
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


@router.get("/v1/admin/statements", responses={404: {"description": "not an admin (as if the endpoint did not exist)"},
                                              503: {"description": "pg_stat_statements is not available"}})
async def top_statements(db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep,
                         # Checked in the body, after the admin check (a non-admin learns
                         # nothing from a bad value); the document says what is valid.
                         order: Annotated[str, Query(json_schema_extra={"enum": list(repo.ORDERS)})] = "total_time",
                         limit: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": repo.MAX_LIMIT})] = 20,
                         ) -> Response:
    """The statements Studio's roles ran in this database, heaviest first, as
    pg_stat_statements normalized them (constants replaced by $1, $2, ...; any literal
    left, as in utility statements, shown as ?). Admins only:
    anyone else gets 404, whatever the parameters, as if it did not exist."""
    try:
        async with db.as_user(cred, ctx) as tx:
            await auth.require_admin(tx, settings)
            if order not in repo.ORDERS:
                raise ApiError(422, "validation_error", f"order must be one of {', '.join(repo.ORDERS)}")
            if not 1 <= limit <= repo.MAX_LIMIT:
                raise ApiError(422, "validation_error", f"limit must be between 1 and {repo.MAX_LIMIT}")
            rows = await repo.top_statements(tx, order=order, limit=limit)
    except repo.StatementsUnavailable as exc:
        raise ApiError(503, "unavailable", f"statement statistics are not available: {exc}") from exc
    return json_response({"order": order, "limit": limit, "items": service.statements_without_literals(rows)})


@router.get("/v1/admin/ops", response_model=OpsSummary, summary="The operations summary (admins only)",
            responses={401: {"description": "not signed in"},
                       404: {"description": "not an admin (as if the endpoint did not exist)"}})
async def ops_summary(db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep, expected: MigrationHead) -> Response:
    """The operations page, read-only, for admins (anyone else gets 404): readiness as
    /readyz checks it, the last stored audit result (or how to run `studio audit`), the
    latest backup and restore drill, the queue per job kind (depth, due, running, the
    oldest due job's wait), and this API process's database pool. Counts, states and
    operational records only: no user's content, no emails."""
    summary = await service.ops_summary(db, ctx, cred, settings=settings, expected_revision=expected)
    return json_response(summary, headers={"Cache-Control": "no-store"})
