"""Liveness and readiness (F23). /readyz checks for real: a round trip through the
API's own pool and role, and the schema at the migration head this code expects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from studio.config import Settings
from studio.health import repository
from studio.http.deps import Ctx, Db, MigrationHead, SettingsDep
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
async def readyz(db: Db, ctx: Ctx, settings: SettingsDep, expected: MigrationHead) -> Response:
    checks: dict[str, object] = {}
    migrations_ok = False
    try:
        async with db.as_anon(ctx) as tx:
            current = await repository.schema_version(tx)
            if expected is not None and current == expected:
                backups = await repository.backup_status(tx)
                checks["backups"] = backup_summary(backups, settings)
        checks["database"] = "ok"
        migrations_ok = current == expected
        checks["migrations"] = {"current": current, "expected": expected, "status": "ok" if migrations_ok else "behind"}
    except Exception as exc:  # readiness reports, it does not crash
        checks["database"] = f"error: {type(exc).__name__}"
    ready = checks.get("database") == "ok" and migrations_ok
    return json_response({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)
