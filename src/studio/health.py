"""Liveness and readiness (F23). /readyz checks for real: a round trip through the
API's own pool and role, and the schema at the migration head this code expects."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from studio.deps import Ctx, Db
from studio.http import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request, db: Db, ctx: Ctx) -> Response:
    expected = request.app.state.migration_head
    checks: dict[str, object] = {}
    try:
        async with db.as_anon(ctx) as tx:
            cur = await tx.conn.execute("SELECT version_num FROM public.alembic_version")
            row = await cur.fetchone()
        checks["database"] = "ok"
        current = row["version_num"] if row else None
        checks["migrations"] = {"current": current, "expected": expected,
                                "status": "ok" if current == expected else "behind"}
    except Exception as exc:  # readiness reports, it does not crash
        checks["database"] = f"error: {type(exc).__name__}"
    ready = checks.get("database") == "ok" and checks["migrations"]["status"] == "ok"  # type: ignore[index]
    return json_response({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)
