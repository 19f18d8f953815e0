"""Liveness and readiness (F23). /readyz checks for real: a round trip through the
API's own pool and role, and the schema at the migration head this code expects
(health/service.py, shared with the admins' ops page)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from studio.health import service
from studio.http.deps import Ctx, Db, MigrationHead, SettingsDep
from studio.http.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(db: Db, ctx: Ctx, settings: SettingsDep, expected: MigrationHead) -> Response:
    result = await service.readiness(db, ctx, settings, expected)
    return json_response(result.as_json(), 200 if result.ready else 503)
