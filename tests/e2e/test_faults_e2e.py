"""Faults under live load, nothing lost (the short run of bench/fault_bench.py; the
code is tests/e2e/faults.py): a real `studio up` with two API processes and an extra
worker, a few users signing in, chatting, generating, uploading and downloading, while
PostgreSQL restarts, an API process and a worker (mid-job) are SIGKILLed and the
storage disk fills up. Afterwards every acknowledged write is there exactly once, every
accepted generation ended exactly once, and after each fault Studio answered again by
itself. No timings are asserted; the figures are the benchmark's."""

from __future__ import annotations

import json
import shutil

import pytest

from . import faults
from .support import Lab, needs_postgres

_MISSING_TOOLS = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.slow,
    needs_postgres,
    pytest.mark.skipif(bool(_MISSING_TOOLS), reason=f"not installed: {', '.join(_MISSING_TOOLS)}"),
]


def test_faults_under_load_lose_and_duplicate_nothing(lab: Lab) -> None:
    result = faults.run(lab, faults.Options(users=4, window=8.0, baseline=3.0, storage_mb=64,
                                            settle_timeout=180.0))
    report = json.dumps({"windows": result.windows, "totals": result.totals,
                         "generations": result.checks["generation"]["statuses"]}, indent=1)
    assert result.totals["writes"] > 0 and all(w["requests"] > 0 for w in result.windows), report
    assert result.lost == 0, json.dumps(result.checks, indent=1)
    assert result.duplicated == 0, json.dumps(result.checks, indent=1)
    assert result.stuck == 0, json.dumps(result.checks, indent=1)
    assert result.downloads["bad"] == [] and result.totals["corrupt_downloads"] == [], result.downloads
    assert result.recovered, report
    # Every fault happened as meant: the killed API process was replaced by its
    # supervisor, the killed worker's job was rescued and ended.
    by_fault = {w["fault"]: w for w in result.windows}
    assert "replaced_after_s" in by_fault["api_kill"]["extra"], report
    assert by_fault["worker_kill"]["extra"].get("job_status") == "succeeded", report
    # Nothing under `studio up` died of it; no answer was a server bug.
    assert result.totals["exit_codes_while_running"]["studio up"] is None, report
    assert not any(status.startswith("500") for w in result.windows for status in w["errors"]), report
    print(report)
