"""Liveness and readiness (F23). /readyz checks for real: a round trip through the
API's own pool and role, and the schema at the migration head this code expects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from studio.config import Settings
from studio.http.deps import Ctx, Db
from studio.http.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


def backup_summary(status: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Shown in /readyz (F1), without changing readiness: a failed backup must alert
    (notifications, metrics), not take the API out of service. `failing` when the last
    backup or drill failed, `stale` when the last good backup is older than two
    nights, `none` before the first one."""
    last_ok = status.get("last_successful_backup_at")
    last_backup = status.get("last_backup") or {}
    last_drill = status.get("last_drill") or {}
    state = "ok"
    if not settings.backup_enabled:
        state = "disabled"
    elif last_backup.get("status") == "failed" or last_drill.get("status") == "failed":
        state = "failing"
    elif last_ok is None:
        state = "none"
    else:
        age = datetime.now(UTC) - datetime.fromisoformat(last_ok)
        if age.total_seconds() > 2 * 86400:
            state = "stale"
    return {"status": state, "last_successful_backup_at": last_ok, "last_backup": last_backup or None,
            "last_drill": last_drill or None}


@router.get("/readyz")
async def readyz(request: Request, db: Db, ctx: Ctx) -> Response:
    expected = request.app.state.migration_head
    checks: dict[str, object] = {}
    try:
        async with db.as_anon(ctx) as tx:
            cur = await tx.conn.execute("SELECT version_num FROM public.alembic_version")
            row = await cur.fetchone()
            if expected is not None and row is not None and row["version_num"] == expected:
                cur = await tx.conn.execute("SELECT public.backup_status() AS status")
                backups = (await cur.fetchone() or {}).get("status") or {}
                checks["backups"] = backup_summary(backups, request.app.state.settings)
        checks["database"] = "ok"
        current = row["version_num"] if row else None
        checks["migrations"] = {"current": current, "expected": expected,
                                "status": "ok" if current == expected else "behind"}
    except Exception as exc:  # readiness reports, it does not crash
        checks["database"] = f"error: {type(exc).__name__}"
    ready = checks.get("database") == "ok" and checks["migrations"]["status"] == "ok"  # type: ignore[index]
    return json_response({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)
