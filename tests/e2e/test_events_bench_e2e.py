"""Live events at scale, small (the code of bench/events_bench.py): a real `studio up`
with one API process, 20 idle `GET /v1/events` streams over 4 users, progress events
made by the worker's own statement. Each stream gets exactly its own user's events,
once; the API keeps one LISTEN connection; nothing is left running. No timings are
asserted; the figures are the benchmark's."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .support import needs_postgres

pytestmark = [pytest.mark.slow, needs_postgres]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "events_bench.py"


def _bench() -> ModuleType:
    """bench/ is not a package: the script is loaded from its file (it puts bench/ on
    sys.path itself, for benchlib)."""
    spec = importlib.util.spec_from_file_location("events_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["events_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_each_stream_gets_exactly_its_own_users_events(tmp_path: Path) -> None:
    bench = _bench()
    options = bench.Options(levels=(20,), users=4, rate=10.0, rounds=1, round_seconds=2.0, settle_seconds=1.0,
                            drain_seconds=12.0, warmup_streams=4)
    result = bench.run(options)
    report = json.dumps({k: v for k, v in result.items() if k != "levels"} | {
        "levels": [{k: v for k, v in level.items() if k != "memory"} for level in result["levels"]]},
        indent=1, default=str)
    [level] = result["levels"]
    [one_round] = level["rounds"]
    assert level["streams"] == 20 and not level["refused"], report
    assert one_round["events_sent"] == 20, report
    # 5 streams per user, each of a user's events to each of them: every one, once.
    assert one_round["deliveries_expected"] == 100, report
    assert one_round["deliveries_received"] == 100, report
    assert one_round["missing"] == one_round["duplicated"] == 0, report
    assert one_round["wrong_user"] == one_round["unexpected"] == 0, report
    # One shared LISTEN connection, before and with the streams open and after they closed.
    assert result["baseline"]["listen"]["listener"] == 1, report
    assert level["listen"]["listener"] == 1, report
    assert result["after_close"]["listen"]["listener"] == 1, report
    # Closed streams are let go of by the server; nothing of the run is left running.
    assert result["after_close"]["requests_in_progress_after"] == 1, report
    assert result["left_running"] == [], report
    # The results are written where asked, not to bench/results.
    result.update({"when": "now", "command": "test", "options": bench.asdict(options), "load_average": (0, 0, 0)})
    bench.write_results(result, tmp_path, readme=False)
    assert (tmp_path / "events.md").read_text().startswith("# Live events at scale")
    assert json.loads((tmp_path / "events.json").read_text())["levels"][0]["streams"] == 20
