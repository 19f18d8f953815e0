"""Readiness (F23), once for GET /readyz and the admins' ops page: a round trip through
the API's own pool and role, the schema at the migration head this code expects, and
the backups' state (shown, without changing readiness)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from studio.auth.identity import RequestContext
from studio.config import Settings
from studio.db.scopes import ApiDatabase
from studio.health import repository


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, Any]  # database, migrations, backups (when the schema is current)

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not_ready", "checks": self.checks}


async def readiness(db: ApiDatabase, ctx: RequestContext, settings: Settings, expected: str | None) -> Readiness:
    """Never raises: a database that cannot answer is reported, not thrown."""
    checks: dict[str, Any] = {}
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
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not crash
        checks["database"] = f"error: {type(exc).__name__}"
    return Readiness(checks.get("database") == "ok" and migrations_ok, checks)


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
