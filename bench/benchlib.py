"""What the benchmarks share: percentiles, the machine's CPU counters, the open-files
limit, and their sections of bench/README.md (each script rewrites its own section between markers)."""

from __future__ import annotations

import math
import resource
from collections.abc import Sequence
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
README_HEADER = "# Benchmarks\n\nBenchmarks are not tests: each one writes its figures to `bench/results/`.\n"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def cpu_busy_ticks() -> int:
    """Busy clock ticks of the whole machine since boot (/proc/stat): the difference
    over a run, next to a benchmark's own processes, shows other people's work."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def raise_nofile() -> int:
    """Raise this process's open-files limit to the hard limit (every client connection is a
    file descriptor; children inherit it); returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def write_readme_section(start: str, end: str, lines: list[str]) -> None:
    """Replace the text between the markers `start` and `end` in bench/README.md with
    `lines` (the markers included), or append it if the markers are not there yet."""
    section = "\n".join([start, *lines, end])
    text = README.read_text() if README.exists() else README_HEADER
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)
