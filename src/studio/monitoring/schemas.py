"""Shapes of the admins' operations endpoints (GET /v1/admin/ops)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field


class MigrationState(BaseModel):
    current: str | None
    expected: str | None
    status: Literal["ok", "behind"]


class BackupState(BaseModel):
    """As /readyz shows it (public.backup_status()): outcomes and times only."""

    status: Literal["ok", "disabled", "failing", "none", "stale"]
    last_successful_backup_at: datetime | None
    last_backup: dict[str, Any] | None = Field(description='{"status", "type", "finished_at"} of the last '
                                                           "finished backup")
    last_drill: dict[str, Any] | None = Field(description='{"status", "finished_at"} of the last finished drill')


class ReadinessChecks(BaseModel):
    database: str = Field(description='"ok", or "error: <exception type>"')
    migrations: MigrationState | None = None
    backups: BackupState | None = Field(None, description="present when the schema is at the expected revision")


class Readiness(BaseModel):
    """What GET /readyz answers, checked now by this API process."""

    status: Literal["ready", "not_ready"]
    checks: ReadinessChecks


class AuditFinding(BaseModel):
    id: str = Field(description="the finding, K1-K5 or F1-F24 (docs/operations/audit.md)")
    area: str
    title: str
    severity: Literal["critical", "high", "medium", "low"]
    status: Literal["warn", "fail", "error"]
    detail: str
    action: str


class AuditSummary(BaseModel):
    """The latest `studio audit` result: every run of `studio audit` on the server stores
    its report, and this shows the latest. The API does not run the audit itself: it
    needs the database owner's login, which the API does not have, and it calls this API
    over HTTP."""

    available: bool
    score: float | None = Field(description="out of 10")
    status: str | None = Field(description="PRODUCTION READY, NEARLY PRODUCTION READY or NOT PRODUCTION READY")
    generated_at: datetime | None = Field(description="when the audit ran")
    blocking: list[str] = Field(description="critical findings that failed or could not be checked: K1, K5, F4 "
                                            "(user isolation) first, then F1-F3, F5")
    failing: list[AuditFinding] = Field(description="every check that did not pass, the worst first")
    message: str | None = Field(description="when not available (no run stored yet): why, and how to run the "
                                            "audit")


class BackupRun(BaseModel):
    id: UUID
    status: Literal["running", "succeeded", "failed"]
    backup_type: Literal["full", "diff", "incr"] | None
    repo: int
    trigger: Literal["manual", "scheduled"]
    backup_label: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None


class Backups(BaseModel):
    enabled: bool = Field(description="STUDIO_BACKUP_ENABLED: Studio runs its database's backups")
    last_backup: BackupRun | None = Field(description="the latest backup run, a running one included")
    last_drill: BackupRun | None = Field(description="the latest restore drill, a running one included")


class QueueKind(BaseModel):
    kind: Literal["generation", "training", "storage_cleanup", "maintenance", "conversation_title"]
    queued: int
    due: int = Field(description="of the queued jobs, those whose run_after has come (the others wait out a "
                                 "retry's backoff)")
    running: int
    oldest_queued_age_seconds: float | None = Field(
        description="how long the longest-waiting due job has waited since its run_after (its enqueueing, or "
                    "the end of its backoff); null when no job is due")


class WorkerNode(BaseModel):
    """A node workers run on (public.node_resources), as its workers registered it."""

    name: str = Field(description="the host's name, or the workers' STUDIO_WORKER_NODE")
    status: Literal["online", "offline", "draining"]
    provides: list[str] = Field(description="the local providers its workers can run (jobs requiring one of "
                                            "them go only to workers that offer it)")
    last_heartbeat_at: datetime | None = Field(description="when one of its workers last renewed it (every 15 s)")
    live: bool = Field(description="online and heard from within the last minute: what it offers counts")


class PoolStats(BaseModel):
    """The answering API process's database pool (psycopg_pool get_stats()). With
    STUDIO_API_WORKERS > 1 each process has its own: /metrics sums them."""

    process_id: int
    min_size: int
    max_size: int
    size: int = Field(description="connections open now")
    available: int = Field(description="of those, idle in the pool")
    in_use: int
    requests_waiting: int = Field(description="requests waiting for a connection now")
    requests_total: int = Field(description="connections handed out since the process started")
    requests_queued: int = Field(description="of those, how many had to wait")
    requests_wait_ms: int = Field(description="total time waited")
    requests_errors: int = Field(description="requests that got no connection in time (answered 503)")
    connections_total: int = Field(description="connections opened to the server")
    connections_errors: int
    connections_lost: int
    returns_bad: int = Field(description="connections returned broken")


class OpsSummary(BaseModel):
    generated_at: datetime
    readiness: Readiness
    audit: AuditSummary
    backups: Backups
    queue: list[QueueKind] = Field(description="every job kind, also those without jobs")
    workers: list[WorkerNode] = Field(description="the nodes workers registered, by name")
    pool: PoolStats
