"""Liveness and readiness (F23). /readyz checks for real: a round trip through the
API's own pool and role, and the schema at the migration head this code expects
(health/service.py, shared with the admins' ops page).

In production an anonymous caller learns only whether the instance is ready: the
checks behind it (the schema revision, the backups' state) are for the monitoring
system, which sends the metrics token, and for admins, who see them on the ops page
(GET /v1/admin/ops)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from studio.health import service
from studio.http.deps import Ctx, Db, MigrationHead, SettingsDep, bearer_matches
from studio.http.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request, db: Db, ctx: Ctx, settings: SettingsDep, expected: MigrationHead) -> Response:
    result = await service.readiness(db, ctx, settings, expected)
    body = result.as_json()
    if settings.env == "production" and not bearer_matches(request, settings.metrics_token):
        body = {"status": body["status"]}
    return json_response(body, 200 if result.ready else 503, headers={"Cache-Control": "no-store"})
