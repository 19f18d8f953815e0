"""The admins' ops summary (GET /v1/admin/ops): readiness, the audit, backups, the queue,
the workers' nodes and this process's database pool, read-only. Aggregates and operational records only:
no prompt, title, email or any other user's content."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlparse.lexer
from sqlparse import tokens

from studio.audit import repository as audit
from studio.audit.report import SEVERITY_ORDER, STATUS_ORDER
from studio.auth import service as auth
from studio.auth.identity import Credential, RequestContext
from studio.config import Settings
from studio.db.scopes import ApiDatabase
from studio.fleet import repository as fleet
from studio.health import service as health
from studio.jobs import repository as jobs
from studio.ops import repository as ops

AUDIT_NOT_STORED = (
    "no audit result is stored yet. The API does not run the audit: it needs the database owner's login, "
    "which the API process does not have, and it calls this API over HTTP. Run `studio audit` on the server "
    "(as the user that runs Studio): every run is stored and shows here, see docs/operations/audit.md")

_POOL_KEYS = {"min_size": "pool_min", "max_size": "pool_max", "size": "pool_size", "available": "pool_available",
              "requests_waiting": "requests_waiting", "requests_total": "requests_num",
              "requests_queued": "requests_queued", "requests_wait_ms": "requests_wait_ms",
              "requests_errors": "requests_errors", "connections_total": "connections_num",
              "connections_errors": "connections_errors", "connections_lost": "connections_lost",
              "returns_bad": "returns_bad"}


async def ops_summary(db: ApiDatabase, ctx: RequestContext, cred: Credential, *, settings: Settings,
                      expected_revision: str | None) -> dict[str, Any]:
    """For admins only: anyone else gets 404, as if it did not exist, before anything
    is checked. Several transactions: the admin's reads, then readiness in its own
    anonymous one (what /readyz does)."""
    async with db.as_user(cred, ctx) as tx:
        await auth.require_admin(tx, settings)
        queue = await jobs.queue_summary(tx)
        runs = await ops.last_runs(tx)
        last_audit = await audit.latest_run(tx)
        nodes = await fleet.nodes(tx)
    ready = await health.readiness(db, ctx, settings, expected_revision)
    return {
        "generated_at": datetime.now(UTC),
        "readiness": ready.as_json(),
        "audit": audit_summary(last_audit),
        "backups": {"enabled": settings.backup_enabled, "last_backup": runs.get("backup"),
                    "last_drill": runs.get("drill")},
        "queue": queue,
        "workers": nodes,
        "pool": pool_stats(db),
    }


def audit_summary(report: dict[str, Any] | None) -> dict[str, Any]:
    """The latest stored audit report (`Report.as_json()`, what `studio audit --format
    json` prints; every `studio audit` stores one) as the ops page shows it: the score,
    the verdict and every check that did not pass, the worst first. None (no run
    stored yet): not available, and how to run it."""
    if report is None:
        return {"available": False, "score": None, "status": None, "generated_at": None, "blocking": [],
                "failing": [], "message": AUDIT_NOT_STORED}
    failing = sorted((c for c in report["checks"] if c["status"] != "pass"),
                     key=lambda c: (c["id"] not in report["blocking"], STATUS_ORDER[c["status"]],
                                    SEVERITY_ORDER[c["severity"]]))
    return {"available": True, "score": report["score"], "status": report["status"],
            "generated_at": report["generated_at"], "blocking": report["blocking"],
            "failing": [{k: c[k] for k in ("id", "area", "title", "severity", "status", "detail", "action")}
                        for c in failing],
            "message": None}


def pool_stats(db: ApiDatabase) -> dict[str, int]:
    """This process's pool, from psycopg_pool's get_stats() (counters it has not
    counted yet are absent there: 0 here)."""
    stats = db.pool.get_stats()
    values = {name: int(stats.get(key, 0)) for name, key in _POOL_KEYS.items()}
    return {"process_id": os.getpid(), **values, "in_use": values["size"] - values["available"]}


def without_literals(query: str) -> str:
    """The statement with each literal value (a string, a number, a dollar-quoted body)
    shown as `?`. pg_stat_statements already shows the constants of ordinary statements
    as $1, $2; utility statements it keeps as they were sent (`SET ... = '5s'`, an
    operator's `ALTER ROLE ... PASSWORD '...'`), so the statements views mask what is
    left. Quoted identifiers stay. sqlparse's lexer knows PostgreSQL's quoting rules
    (doubled quotes, E'' escapes, $tag$ bodies) better than a regular expression would."""
    return "".join("?" if _literal(kind) else text for kind, text in sqlparse.lexer.tokenize(query))


def _literal(kind: object) -> bool:
    return kind is tokens.Literal or kind in tokens.String.Single or kind in tokens.Number


def statements_without_literals(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row | {"query": without_literals(row["query"])} for row in rows]
