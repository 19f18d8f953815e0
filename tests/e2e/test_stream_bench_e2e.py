"""Streamed chat overhead, tiny (the benchmark is bench/stream_bench.py, which runs the
same code at up to 2,000 concurrent streams): a real `studio up` with one API process,
the fake OpenAI-compatible provider in its own process, client processes streaming chats
through Studio and straight from the provider at two small concurrency levels. Every
stream must deliver every token in order and end with its stored answer, the report must
have each level, and nothing the benchmark started may be left running. No timings are
asserted; the figures are the benchmark's."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .support import Lab, needs_postgres

BENCH = Path(__file__).resolve().parents[2] / "bench" / "stream_bench.py"

pytestmark = [pytest.mark.slow, needs_postgres]


def _stream_bench() -> ModuleType:
    """bench/ is no package: the script, loaded from its file."""
    spec = importlib.util.spec_from_file_location("stream_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stream_bench"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_stream_completes_at_small_scale(lab: Lab, tmp_path: Path) -> None:
    bench = _stream_bench()
    options = bench.Options(levels=(2, 10), tokens=5, pace_ms=20.0, window=1.0, rounds=1, users=2, profile=False)
    result = bench.run(lab, options)
    page = bench.write_results(result, "`tests/e2e/test_stream_bench_e2e.py`", tmp_path, readme=False)
    raw = json.loads((tmp_path / "stream.json").read_text())
    report = json.dumps(raw["levels"], indent=1)

    assert [level["level"] for level in raw["levels"]] == [2, 10], report
    for level in raw["levels"]:
        [row] = level["rounds"]
        for path in ("studio", "direct"):
            # Every chat started ended complete: every token in order, then `done` (Studio:
            # the stored answer, its text checked) or [DONE] (the provider).
            assert row[f"{path}_errors"] == 0, row[f"{path}_error_kinds"]
            assert row[f"{path}_started"] > 0 and row[f"{path}_tokens"] > 0, report
            assert row[f"{path}_completed_all"] == row[f"{path}_started_all"], report
            # The concurrency held: as many streams open as the level, most of the window.
            assert row[f"{path}_inflight_mean"] >= 0.8 * level["level"], report
    # Each answer streamed through Studio is stored, once.
    assert result.stored_answers == result.completed_studio_streams > 0
    text = page.read_text()
    for level in (2, 10):
        assert f"\n| {level} | " in text and f"\n| {level} (round 1) | direct |" in text
        assert f"\n| {level} (round 1) | Studio |" in text
    # The provider, the clients and `studio up` (its API and worker) are all gone.
    assert result.leftover == []
    assert bench.ours_running() == []
    assert all(proc.proc.poll() is not None for proc in lab.procs)
