"""What `studio audit` keeps of its runs: every run's report, for the admins' ops page
(GET /v1/admin/ops shows the latest), the latest KEEP_RUNS runs only."""

from __future__ import annotations

from typing import Any

import psycopg

from studio.audit import repository
from studio.audit.report import Report

KEEP_RUNS = 50


def store_run(conn: psycopg.Connection[Any], report: Report, *, exit_code: int) -> None:
    """Records the run and drops all but the latest KEEP_RUNS, on studio_owner's login
    (the one the audit ran with); the caller commits both at once."""
    shown = report.as_json()
    repository.record_run(conn, score=shown["score"], status=shown["status"], exit_code=exit_code, report=shown)
    repository.keep_latest_runs(conn, keep=KEEP_RUNS)
