#!/usr/bin/env python3
"""Faults under live load: nothing acknowledged is lost, nothing happens twice.

    .venv/bin/python bench/fault_bench.py [--users 16] [--window 30] [--baseline 15]
                                          [--faults postgres_restart api_kill worker_kill disk_full]

A throwaway `studio up` (embedded PostgreSQL, 2 API processes under uvicorn's supervisor,
its worker) plus an extra `studio worker`; chat answered by the test suite's fake
OpenAI-compatible server, audio and video by the local espeak-ng and ffmpeg providers;
media on a tmpfs of --storage-mb (as root). --users simulated users sign in, create
conversations, post messages, chat (streamed answers), queue generations, upload and
download files, while the faults come one per window of --window seconds: PostgreSQL
restarted, an API process SIGKILLed, a worker SIGKILLed in the middle of a job, the
storage disk filled to the last byte (freed halfway through the window).

Then every acknowledged write is looked for (as the database superuser, and the files
through the API), every accepted generation must have ended exactly once. Writes
bench/results/faults.md and faults.json and its section of bench/README.md. The code
is tests/e2e/faults.py, which the e2e tier runs small (tests/e2e/test_faults_e2e.py).
Everything started here is stopped and removed, also on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.e2e import faults
from tests.e2e.support import NO_POSTGRES, Lab

from benchlib import cpu_busy_ticks, write_readme_section

RESULTS = ROOT / "bench" / "results"
START, END = "<!-- fault-bench:start -->", "<!-- fault-bench:end -->"


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{status}: {count}" for status, count in errors.items()) or "none"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(result: faults.Result) -> list[str]:
    lines = ["| fault | requests in the window | errors (status: count) | fault lasted (s) | "
             "recovered after (s) | writes acknowledged | lost | duplicates | stuck |",
             "|:---|---:|:---|---:|---:|---:|---:|---:|---:|"]
    for w in result.windows:
        lines.append(f"| {faults.FAULT_NAMES[w['fault']]} | {w['requests']} | {_errors(w['errors'])} | "
                     f"{_seconds(w['fault_lasted_s'])} | {_seconds(w['recovered_after_s'])} | "
                     f"{w['acknowledged_writes']} | {w['lost']} | {w['duplicated']} | {w['stuck']} |")
    return lines


def details(result: faults.Result) -> list[str]:
    lines = []
    for w in result.windows:
        if w["fault"] == "baseline":
            continue
        extra = w["extra"]
        said = f"- **{faults.FAULT_NAMES[w['fault']]}**"
        if w["errors_by_kind"]:
            said += f": failed requests by kind: {_errors(w['errors_by_kind'])}"
        if "replaced_after_s" in extra:
            said += f"; uvicorn's supervisor had a new API process serving {extra['replaced_after_s']:.2f} s after the kill"
        if "job_final_after_s" in extra:
            said += (f"; the killed worker's job ({extra['job_generation']}) ended `{extra['job_status']}` after "
                     f"{extra['job_attempts']} attempts, {extra['job_final_after_s']:.1f} s after the kill "
                     f"(lease {faults.LEASE_SECONDS:.0f} s, then a rescue and a full run)")
        if "free_bytes_when_full" in extra:
            said += f"; free bytes while full: {extra['free_bytes_when_full']}"
        if w["notes"]:
            said += "; " + "; ".join(w["notes"])
        lines.append(said + ".")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--window", type=float, default=30.0, help="seconds of load per fault")
    parser.add_argument("--baseline", type=float, default=15.0, help="seconds of load before the first fault")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause between one user's requests (s)")
    parser.add_argument("--faults", nargs="+", choices=faults.FAULTS, default=list(faults.FAULTS))
    parser.add_argument("--storage-mb", type=int, default=256)
    args = parser.parse_args(argv)
    if NO_POSTGRES is not None:
        print(NO_POSTGRES, file=sys.stderr)
        return 2
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        print(f"not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    options = faults.Options(users=args.users, window=args.window, baseline=args.baseline, think=args.think,
                             faults=tuple(args.faults), storage_mb=args.storage_mb, settle_timeout=600.0)
    command = "`.venv/bin/python bench/fault_bench.py" + (f" {' '.join(argv)}" if argv else "") + "`"

    when = dt.datetime.now(dt.UTC)
    load_avg = os.getloadavg()
    ticks = cpu_busy_ticks()
    lab = Lab()
    try:
        result = faults.run(lab, options, log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        lab.cleanup()
    busy = (cpu_busy_ticks() - ticks) / os.sysconf("SC_CLK_TCK")

    ok = result.lost == 0 and result.duplicated == 0 and result.stuck == 0 and result.recovered \
        and not result.downloads["bad"] and not result.totals["corrupt_downloads"]
    server_errors = sum(n for w in result.windows for s, n in w["errors"].items() if s.startswith("500"))
    kinds = result.totals["by_kind"]
    summary = [
        f"Last run: {when:%Y-%m-%d %H:%M} UTC, {command} ({result.seconds:.0f} s in all), "
        f"{os.cpu_count()} cores, load average at start {load_avg[0]:.2f}; {options.users} users, "
        f"{options.window:.0f} s per fault window, {options.baseline:.0f} s of baseline.",
        "",
        *table(result),
        "",
        (f"Overall: {result.totals['requests']:,} requests, {result.totals['writes']:,} acknowledged writes "
         f"({', '.join(f'{n} {k}s' for k, n in sorted(kinds.items()))}), **{result.lost} lost, "
         f"{result.duplicated} duplicated, {result.stuck} stuck**; server errors (500): {server_errors}; "
         f"files downloaded intact afterwards: {int(result.downloads['checked'][0]) - len(result.downloads['bad'])}"
         f" of {result.downloads['checked'][0]}. Generations: {', '.join(result.checks['generation']['statuses'])}."
         + ("" if ok else " **Something was lost, duplicated, stuck or not recovered: see faults.json.**")),
    ]
    logged = result.totals["log_errors"]
    log_lines = [f"- {count} x `{line}`" for line, count in logged.items()] or ["- none"]
    md = ["# Faults under live load", "", *summary, "",
          "## What happened in each window", "", *details(result), "",
          "Error lines in the log of every process (`$STUDIO_HOME/logs/studio.log`; what became a 503 is "
          "logged as a warning, except a failing store, an error for the operator):", "", *log_lines, "",
          "## How", "",
          ("A fresh `studio up` (embedded PostgreSQL run as the `postgres` OS user, `STUDIO_API_WORKERS=2` "
           "under uvicorn's supervisor, its worker) plus one extra `studio worker`, as a deployment that "
           "runs several does; the chat model is the test suite's fake OpenAI-compatible server, audio and "
           "video are the local espeak-ng and ffmpeg providers; media is stored on a tmpfs of "
           f"{options.storage_mb} MB (`STUDIO_STORAGE_DIR`) so that its disk can be filled without touching "
           f"the database's; `STUDIO_WORKER_LEASE_SECONDS={faults.LEASE_SECONDS:.0f}` so a killed worker's "
           "job is rescued within seconds. Backups are off (nothing to do with these faults)."),
          "",
          ("Each user (asyncio + httpx, its own session) loops over a weighted mix: "
           + ", ".join(f"{k} {v}" for k, v in faults.MIX.items())
           + f", with exponential pauses of {options.think} s on average. A write counts as acknowledged when "
           "the server answered 2xx (a streamed chat answer: its question at the 200, the answer at `done`); "
           "each carries a unique marker (a conversation's title, a message's content, an upload's bytes and "
           "checksum, a generation's prompt)."),
          "",
          ("Faults, one per window, in this order: PostgreSQL stopped (`pg_ctl stop -m fast`) for "
           f"{options.pg_down:.0f} s and started again; one of the two API processes SIGKILLed (uvicorn "
           "starts another); an extra worker SIGKILLed (ffmpeg with it) while it holds a running job, and "
           "another worker started; the storage tmpfs filled to the last byte for half the window, then "
           "freed. *Fault lasted*: from the injection to the fault's end (the database up again, the kill "
           "itself, the disk freed). *Recovered after*: from the fault's end until `/readyz` answered 200 "
           "and a write of the kind the fault hit (a conversation; an upload after the disk fault) "
           "succeeded, from a separate probe user. Requests and errors are counted by the window their "
           "request started in; *errors* are answers >= 400 and requests without an answer (named by the "
           "exception), or a 200 stream that ended without `done`."),
          "",
          ("The checks, after the load stopped and every accepted generation ended: each acknowledged "
           "session (its token's hash), conversation, message, chat question and answer, upload (its "
           "checksum) and generation is in the database exactly once (*lost*: not there; *duplicates*: its "
           "marker twice, a question answered twice, a generation with two successes, results or usage "
           "rows); every generation is in a final state with its job finished and not leased (*stuck* "
           "otherwise), and no job is left running; every upload and every generated file downloads through "
           "the API with the bytes written."),
          "",
          (f"Machine: Python {platform.python_version()}, kernel {platform.release()}; the CPU was busy "
           f"{busy:.0f} s (all processes) over the run; the machine is shared, see the load average above."),
          ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faults.md").write_text("\n".join(md))
    raw: dict[str, Any] = {"when": when.isoformat(), "command": command, "windows": result.windows,
                           "totals": result.totals, "downloads": {"checked": result.downloads["checked"],
                                                                  "bad": result.downloads["bad"]},
                           "checks": {k: {n: (v if n in ("lost", "duplicated", "stuck", "statuses",
                                                         "running_or_leased") else len(v))
                                          for n, v in c.items()} for k, c in result.checks.items()},
                           "options": result.options, "seconds": result.seconds}
    (RESULTS / "faults.json").write_text(json.dumps(raw, indent=1) + "\n")
    write_readme_section(START, END, [
        "## Faults under live load (`fault_bench.py`)", "",
        ("Mixed HTTP load from many users (sign-ins, conversations, messages, streamed chat, generations, "
         "uploads, downloads) on a real `studio up` with 2 API processes and an extra worker, while "
         "PostgreSQL restarts, an API process is SIGKILLed, a worker is SIGKILLed mid-job and the storage "
         "disk (a tmpfs, as root) fills up, one fault per window; then every acknowledged write must be "
         "there exactly once and every accepted generation must have ended exactly once. Needs root for "
         "the disk fault (skipped otherwise), espeak-ng and ffmpeg. About 3-4 minutes at the defaults. The "
         "e2e tier runs the same code small (`tests/e2e/test_faults_e2e.py`)."), "",
        "```sh",
        ".venv/bin/python bench/fault_bench.py [--users 16] [--window 30] [--baseline 15] [--think 0.5] "
        "[--faults postgres_restart api_kill worker_kill disk_full] [--storage-mb 256]",
        "```", "",
        *summary, "",
        "Details: [results/faults.md](results/faults.md), raw: [results/faults.json](results/faults.json).",
    ])
    print("\n".join(md))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
