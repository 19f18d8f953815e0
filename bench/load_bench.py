#!/usr/bin/env python3
"""Load benchmarks: the API under wrk next to pgbench running the same SQL, 1,000
concurrent connections in an open loop (direct and through PgBouncer), and the audit's
latency table at the database, on seeded data at scale.

    .venv/bin/python bench/load_bench.py [--users 10000] [--rows 1000000] [--seconds 30]
        [--open-seconds 30] [--audit-seconds 20]

Everything runs in a temporary STUDIO_HOME, on free ports, and is stopped and removed
at the end, also on failure or Ctrl-C:

0. `studio dev seed --users N --rows M` fills a new embedded cluster. Then `studio up`
   (STUDIO_BACKUP_ENABLED=false, STUDIO_RATE_LIMITS_ENABLED=false, STUDIO_API_WORKERS
   --api-workers: one per core by default) serves it; the
   benchmark user signs up and logs in through the API (POST /v1/auth/signup, /login)
   and creates --conversations conversations through it (POST /v1/conversations).

1. RLS-scoped read: wrk (50 connections, 2 threads) against GET /v1/conversations with
   the session cookie, then pgbench (50 clients) on the same database, as studio_api
   over the same Unix socket, running the statements the API sends for that request:
   BEGIN; scopes._BEGIN_ANON; scopes._AUTHENTICATE (the session token's SHA-256 as
   bytea); scopes._NO_USER_NO_ACCESS; chat.repository._LIST_FIRST (limit 20 + 1, the
   user as auth.uid()); COMMIT. The SQL is taken from the code at run time (the
   repository function is called on a recording connection), so it cannot drift from
   what the API sends. Three pgbench variants: one round trip per statement (6),
   pipelined in 2 round trips (BEGIN with the switch to anon, then the rest: -M prepared
   prepares a pipeline's statements when it starts, and studio_api itself may not parse
   a call of auth.authenticate()), and the API's own form, all of it in one message
   (-M simple, values substituted on the client). The API sends that one message
   (ApiDatabase.run_as_user). --servers: the same app under uvicorn (what `studio api`
   runs) and under granian, side by side in each round. Before measuring, the script is checked: psycopg runs the same
   statements as studio_api, pgbench runs the script once printing what it got, and the
   API's answer is compared: all three must return the user's newest conversations.
   The ratio's reference is the faster pgbench variant.

2. 1,000 connections, with `studio up` and with `studio up --pgbouncer`
   (STUDIO_PGBOUNCER_POOL_SIZE=20): first the maximum at that many connections (wrk,
   closed loop, --open-connections connections: a connection costs the API CPU too, so
   this maximum is below part 1's with 50), then an open loop (bench/openloop.py) at
   --open-fraction (70%) of it: p50/p99 latency from each request's scheduled time,
   errors (non-2xx, timeouts, connection errors), and the peak number of server
   connections (pg_stat_activity sampled every 50 ms by the superuser).

3. The audit's latency table, at the database (the cluster alone, Studio stopped):
   pgbench per operation, --audit-clients clients at --audit-rate transactions/s in
   all, each transaction the operation's own transaction as Studio runs it (the scope's
   statements, the repository's statements, COMMIT; one round trip each), spread over
   --audit-users users, for p50/p99 from pgbench's per-transaction log (-l; each
   transaction's own time, without -R's schedule lag). Every user's transaction runs
   once first and is checked (it authenticated as that user, its reads returned rows;
   writes are counted in the database after the run). Users of the seed cannot log in
   (no password matches), so each sampled user gets a session written by the superuser
   with a token known here.

pgbench cannot bind a Python value: the repository's %s placeholders become pgbench
variables (:name, set with -D or \\set), which -M prepared sends as bind parameters
like psycopg does; acceptable for a benchmark. pgbench cannot draw a string at random
either, so the sampled users (and their conversations, jobs, ...) are spread over one
script per user, which pgbench picks at random for each transaction.

Writes bench/results/load.md, bench/results/load.json and the load section of
bench/README.md (--no-write: print only).
"""

from __future__ import annotations

import argparse
import importlib.util
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from benchlib import cpu_busy_ticks, percentile, raise_nofile, write_readme_section  # noqa: E402
from studio.auth import tokens as auth_tokens
from studio.chat import repository as chat_repo
from studio.config import API_ROLE, WORKER_ROLE
from studio.db import scopes
from studio.db.embedded import SUPERUSER, EmbeddedCluster, find_pg_bindir
from studio.db.pgbouncer import find_pgbouncer
from studio.generation import repository as generation_repo
from studio.jobs import repository as jobs_repo
from studio.webhooks import repository as webhooks_repo

DB_NAME = "studio"
RESULTS_DIR = ROOT / "bench" / "results"
OPENLOOP = ROOT / "bench" / "openloop.py"
HZ = os.sysconf("SC_CLK_TCK")

GOAL_RATIO = 0.35            # API >= 35% of pgbench running the same SQL (issue 16; the compass keeps 50%)
GOAL_P99_MS = 100.0          # at 1,000 connections
GOAL_SERVER_CONNECTIONS = 20
GOAL_AUDIT_P99_MS = 5.0      # every audit operation, at the database

PAGE_LIMIT = 20              # GET /v1/conversations' default limit (the query asks for limit + 1)
BENCH_EMAIL = "load-bench@example.org"

log = logging.getLogger("load_bench")


# ============================================================================ small helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime ticks) of every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        out[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


class CpuSampler:
    """CPU of the process trees under `roots` (this script with everything it started,
    and the postmaster, which pg_ctl detaches) during a run, sampled every 0.25 s so that
    short-lived processes count too, next to the whole machine's: the difference is other
    people's work on this shared machine."""

    def __init__(self, roots: list[int], named: dict[str, int] | None = None) -> None:
        self.roots = set(roots)
        # Reported on their own, each with the processes under it (the API's workers).
        self.named = {name: pid for name, pid in (named or {}).items() if pid > 0}
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.parent: dict[int, int] = {}
        self._stop = threading.Event()
        self.t0 = time.monotonic()
        self.busy0 = cpu_busy_ticks()
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self, initial: bool = False) -> None:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo = [r for r in self.roots if r in table]
        seen: set[int] = set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            todo.extend(children.get(pid, []))
        for pid in seen:
            ticks = table[pid][1]
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = ticks
            self.parent[pid] = table[pid][0]

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = max(time.monotonic() - self.t0, 1e-9)
        ours = sum(self.last[p] - self.first[p] for p in self.last)
        machine = cpu_busy_ticks() - self.busy0
        out = {"machine_cores": round(machine / HZ / wall, 2), "benchmark_cores": round(ours / HZ / wall, 2),
               "other_cores": round(max(0, machine - ours) / HZ / wall, 2)}
        for name, pid in self.named.items():
            if pid in self.last:
                tree = [p for p in self.last if self._under(p, pid)]
                out[f"{name}_cores"] = round(sum(self.last[p] - self.first[p] for p in tree) / HZ / wall, 2)
        return out

    def _under(self, pid: int, ancestor: int) -> bool:
        while pid > 1:
            if pid == ancestor:
                return True
            pid = self.parent.get(pid, 0)
        return False


class ConnectionSampler:
    """Server connections, sampled every `interval` seconds as the superuser: client
    backends other than this sampler's, in all, by role, busy (not idle) and LISTENing."""

    def __init__(self, conninfo: str, interval: float = 0.05) -> None:
        self.conninfo = conninfo
        self.interval = interval
        self.samples = 0
        self.peak_total = 0
        self.peak_busy = 0
        self.peak_by_role: dict[str, int] = {}
        self.peak_listen = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                while not self._stop.is_set():
                    rows = conn.execute(
                        "SELECT usename, state, query LIKE 'LISTEN %%' AS listening"
                        "  FROM pg_catalog.pg_stat_activity"
                        " WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()"
                        "   AND datname = %s", (DB_NAME,)).fetchall()
                    self.samples += 1
                    self.peak_total = max(self.peak_total, len(rows))
                    self.peak_busy = max(self.peak_busy, sum(1 for r in rows if r[1] not in ("idle", None)))
                    self.peak_listen = max(self.peak_listen, sum(1 for r in rows if r[2]))
                    by_role: dict[str, int] = {}
                    for r in rows:
                        by_role[r[0]] = by_role.get(r[0], 0) + 1
                    for role, n in by_role.items():
                        self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), n)
                    self._stop.wait(self.interval)
        except psycopg.Error as exc:
            self.error = str(exc)

    def result(self) -> dict[str, Any]:
        return {"samples": self.samples, "peak_total": self.peak_total, "peak_busy": self.peak_busy,
                "peak_listening": self.peak_listen, "peak_by_role": dict(sorted(self.peak_by_role.items())),
                "error": self.error}


def machine_facts() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem_gib = round(mem_kib / 1024 / 1024, 1)
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gib": mem_gib, "kernel": platform.release(),
            "python": platform.python_version(), "psycopg": psycopg.__version__}


def tool_version(cmd: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    return "?"


# ============================================================================ SQL from the code


class _AnyRow(dict):
    """A row for the recording connection: any column reads as 0."""

    def __missing__(self, key: str) -> int:
        return 0


class _RecordedCursor:
    async def fetchone(self) -> _AnyRow:
        return _AnyRow()

    async def fetchall(self) -> list[Any]:
        return []


class RecordingConnection:
    """Stands in for the psycopg connection of a scope: records every statement a
    repository function sends, with its parameters, and sends nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def execute(self, query: str, params: Any = None) -> _RecordedCursor:
        self.calls.append((query, params))
        return _RecordedCursor()

    @contextlib.asynccontextmanager
    async def pipeline(self) -> AsyncIterator[None]:
        """A pipeline changes when statements travel, not which: the same ones are recorded."""
        yield


def recorded(call: Callable[[RecordingConnection], Any]) -> list[tuple[str, Any]]:
    """The statements `call(conn)` (a coroutine) sends, in order."""
    import asyncio

    conn = RecordingConnection()
    asyncio.run(call(conn))
    return conn.calls


# Stand-in values, each mapped to a pgbench variable. Distinct, so that a parameter is
# never mapped to the wrong variable.
S_USER = UUID("00000000-0000-4000-8000-00000000a001")
S_CONVERSATION = UUID("00000000-0000-4000-8000-00000000a002")
S_MODEL = UUID("00000000-0000-4000-8000-00000000a003")
S_GENERATION = UUID("00000000-0000-4000-8000-00000000a004")
S_JOB = UUID("00000000-0000-4000-8000-00000000a005")
S_LIMIT = PAGE_LIMIT + 1
S_PERCENT = 4242
S_STEP = 4343
S_PROMPT = "<prompt>"
S_PROVIDER = "<provider>"
S_TYPE = "<type>"
S_JOB_ID_TEXT = "<provider job id>"
S_DELIVERY = "<delivery id>"
S_PAYLOAD = '{"<payload>": true}'
S_STATUS = "<status>"
S_REQUEST_ID = "<request id>"
S_CLIENT_IP = "<client ip>"
S_USER_AGENT = "<user agent>"
S_KIND = "<credential kind>"
S_TOKEN_HASH = b"<token hash>"

_PLACEHOLDER = re.compile(r"%%|%s|%\((\w+)\)s")


def _key(value: Any) -> Any:
    if isinstance(value, Jsonb):
        return ("jsonb", json.dumps(value.obj, sort_keys=True))
    return (type(value).__name__, value)


def to_pgbench(query: str, params: Any, variables: dict[Any, str]) -> str:
    """A psycopg statement as a pgbench command: each placeholder becomes the pgbench
    variable mapped to its value (`variables`: _key(value) -> name), '%%' becomes '%'.
    An unmapped parameter is an error: the repository changed, the benchmark must too."""
    positional = iter(params) if isinstance(params, (tuple, list)) else None

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is None:
            if positional is None:
                raise RuntimeError(f"positional placeholder without positional parameters in {query}")
            value = next(positional)
        else:
            value = params[match.group(1)]
        if value is None:
            return "NULL"  # psycopg sends None as a NULL parameter; pgbench has no NULL variable
        name = variables.get(_key(value))
        if name is None:
            raise RuntimeError(f"no pgbench variable for parameter {value!r} of:\n{query}")
        return ":" + name

    text = _PLACEHOLDER.sub(sub, query)
    if positional is not None and next(positional, None) is not None:
        raise RuntimeError(f"more parameters than placeholders in {query}")
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines)


def scope_begin(kind: str) -> list[tuple[str, Any]]:
    """The statements that open a scope's transaction, after BEGIN (db/scopes.py)."""
    if kind == "worker":
        return []
    opening = [(scopes._BEGIN_ANON, {"request_id": S_REQUEST_ID, "client_ip": S_CLIENT_IP,
                                     "user_agent": S_USER_AGENT})]
    if kind == "user":
        opening.append((scopes._AUTHENTICATE, {"kind": S_KIND, "token_hash": S_TOKEN_HASH}))
    return opening


def user_scope(conn: RecordingConnection) -> scopes.UserScope:
    user = scopes.CurrentUser(id=S_USER, role="user", email="", display_name=None, session_id=None)
    return scopes.UserScope(conn, user)  # type: ignore[arg-type]


COMMON_VARIABLES = {  # stand-in -> pgbench variable, for every script
    _key(S_REQUEST_ID): "request_id", _key(S_CLIENT_IP): "client_ip", _key(S_USER_AGENT): "user_agent",
    _key(S_KIND): "credential_kind", _key(S_LIMIT): "page_limit",
}
COMMON_DEFINES = {"client_ip": "127.0.0.1", "user_agent": "pgbench", "credential_kind": "session"}
# Every request has its own id (the API: a uuid4 hex; here a random number).
REQUEST_ID_SET = "\\set request_id random(1, 2000000000)"
PAGE_LIMIT_SET = f"\\set page_limit {S_LIMIT}"


# ============================================================================ pgbench scripts


@dataclass
class Statement:
    sql: str                     # pgbench form, without the final ';'
    check: str | None = None     # verification: a column of its (last) row to print
    meta: bool = False           # not Studio's: pgbench's own helper statement


@dataclass
class Operation:
    """One audit operation: its statements (pgbench form, per-user variables suffixed
    _k), the scope, and one set of -D values per sampled user."""

    name: str
    label: str
    scope: str                    # user | anon | worker
    source: str                   # where the SQL comes from
    statements: list[Statement]
    prelude: list[str]            # \set lines and helper statements before BEGIN
    per_user: list[dict[str, str]]  # k -> {variable: value} (variables named without the suffix)
    per_user_names: list[str]     # variables that take the _k suffix
    defines: dict[str, str] = field(default_factory=dict)
    note: str = ""
    expected_users: list[str] = field(default_factory=list)  # k -> user id the scope must authenticate as
    # A write's effect, checked after the run by the superuser: (a query returning one
    # number that each transaction raises by one, what it counts).
    effect: tuple[str, str] | None = None
    updates_rows: bool = False    # updates existing rows (the sampled ones)


def render_one_message(statements: list[Statement], prelude: list[str]) -> str:
    """BEGIN, the statements and COMMIT as one compound command (`\\;`), which pgbench
    -M simple sends in one Query message, values substituted on the client: what
    ApiDatabase.run_as_user sends, one round trip."""
    # -M simple substitutes a variable's text as it is, quotes and all: each one is
    # written as a string literal, which the server resolves to the type it needs, as it
    # does the literals psycopg's client-side binding writes.
    parts = ["BEGIN", *(re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"':\1'", st.sql) for st in statements), "COMMIT"]
    return "\n".join(prelude) + "\n" + " \\;\n".join(parts) + ";\n"


def render_script(statements: list[Statement], prelude: list[str], suffix: str, names: list[str], *,
                  pipeline_after: int | None = None, verify: bool = False, label: str = "") -> str:
    """A pgbench script: the prelude, BEGIN, the statements, COMMIT. Per-user variables
    (`names`) get `suffix`. pipeline_after=n: two pipelines, BEGIN and the first n
    statements, then the rest with COMMIT: two round trips. (pgbench -M prepared prepares
    a pipeline's statements when it starts, as the login role: one that only the scope's
    role may parse, like auth.authenticate(), must come after the role switch.)"""
    def rename(text: str) -> str:
        for name in names:
            text = re.sub(rf":{name}\b", f":{name}{suffix}", text)
        return text

    lines = [rename(p) for p in prelude]
    if pipeline_after is not None:
        lines.append("\\startpipeline")
    lines.append("BEGIN;")
    echo = []
    for i, st in enumerate(statements):
        if pipeline_after is not None and i == pipeline_after:
            lines += ["\\endpipeline", "\\startpipeline"]
        sql = rename(st.sql)
        if verify and st.check:
            lines.append(f"{sql} \\aset c{i}_")
            echo.append(f":c{i}_{st.check}")
        else:
            lines.append(sql + ";")
    lines.append("COMMIT;")
    if pipeline_after is not None:
        lines.append("\\endpipeline")
    if verify:
        lines.append(f"\\shell echo VERIFY {label} " + " ".join(echo))
    return "\n".join(lines) + "\n"


# ============================================================================ output parsing


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    def grab(pattern: str) -> float | None:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None
    latency = {}
    for q, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE):
        latency[f"p{q}"] = round(_ms(value, unit), 3)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    requests = grab(r"(\d+) requests in")
    return {"requests_per_s": grab(r"Requests/sec:\s+([\d.]+)"), "requests": int(requests or 0),
            "non_2xx_3xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0), "socket_errors": socket_errors,
            "latency_ms": latency}


def parse_pgbench(out: str) -> dict[str, Any]:
    def grab(pattern: str) -> float | None:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None
    return {"transactions": int(grab(r"number of transactions actually processed: (\d+)") or 0),
            "failed": int(grab(r"number of failed transactions: (\d+)") or 0),
            "latency_avg_ms": grab(r"latency average = ([\d.]+) ms"),
            "tps": grab(r"tps = ([\d.]+) \(without initial connection time\)")}


def parse_statement_latencies(out: str) -> list[dict[str, Any]]:
    """-r output: per script, its transactions and each command's mean latency (ms)."""
    scripts = []
    for block in re.split(r"\nSQL script \d+: ", "\n" + out)[1:] if "SQL script" in out else [out]:
        m = re.search(r"- (\d+) transactions", block)
        tx = int(m.group(1)) if m else 0
        part = block.split("statement latencies in milliseconds", 1)
        commands = []
        if len(part) == 2:
            for line in part[1].splitlines()[1:]:
                m = re.match(r"^\s+([\d.]+)\s+(\d+)\s+(.*)$", line)
                if m:
                    commands.append({"ms": float(m.group(1)), "failures": int(m.group(2)), "command": m.group(3)})
                elif line.strip() and not line.startswith(" "):
                    break
        scripts.append({"transactions": tx, "commands": commands})
    return scripts


def read_pgbench_logs(prefix: Path) -> list[float]:
    """Per-transaction latencies (ms) of pgbench -l logs <prefix>.<pid>[.<thread>]:
    `client tx time script epoch us [schedule_lag]`. With -R, `time` counts from the
    scheduled start, so it includes the schedule lag: a client that waited for its own
    previous transaction would charge the wait to the next ones too. The transaction's
    own time at the database is time - schedule_lag."""
    values = []
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                lag = int(fields[6]) if len(fields) >= 7 and fields[6].isdigit() else 0
                values.append((int(fields[2]) - lag) / 1000)
    return values


# ============================================================================ the benchmark


class Failed(RuntimeError):
    pass


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="studio-load-bench-")))
    ports: dict[str, int] = field(default_factory=dict)
    up: subprocess.Popen[bytes] | None = None
    up_log: Path | None = None
    cluster_started: bool = False
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    secrets_: dict[str, str] = field(default_factory=dict)
    pgbench_bin: Path | None = None
    wrk_bin: str | None = None
    workers: int = 1  # STUDIO_API_WORKERS of the `studio up` running now
    pgbouncer: bool = False

    # ------------------------------------------------------------------ environment

    @property
    def home(self) -> Path:
        return self.tmp / "home"

    def env(self, **extra: str) -> dict[str, str]:
        """Studio's environment: none of the caller's STUDIO_* or PG* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "PG"))}
        env.update({
            "STUDIO_HOME": str(self.home), "STUDIO_PORT": str(self.ports["http"]),
            "STUDIO_PG_PORT": str(self.ports["pg"]), "STUDIO_PGBOUNCER_PORT": str(self.ports["pgbouncer"]),
            "STUDIO_BACKUP_ENABLED": "false", "STUDIO_RATE_LIMITS_ENABLED": "false",
            "STUDIO_PGBOUNCER_POOL_SIZE": str(self.args.pgbouncer_pool_size), "STUDIO_LOG_FORMAT": "json",
            "STUDIO_API_WORKERS": str(self.workers), "STUDIO_POOL_MAX_SIZE": str(pool_max(self.args, self.workers)),
            "PYTHONPATH": str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        })
        env.update(extra)
        return env

    def check_tools(self) -> None:
        self.wrk_bin = shutil.which("wrk")
        if not self.wrk_bin:
            raise Failed("wrk is not installed: apt-get install wrk")
        bindir = find_pg_bindir()
        real = (bindir / "pg_ctl").resolve().parent
        for candidate in (bindir / "pgbench", real / "pgbench"):
            if os.access(candidate, os.X_OK):
                self.pgbench_bin = candidate
                break
        else:
            raise Failed(f"pgbench not found next to {bindir / 'pg_ctl'}: apt-get install postgresql-contrib "
                         "(or your distribution's package with pgbench)")
        if not self.args.no_pgbouncer:
            find_pgbouncer()

    def cluster(self) -> EmbeddedCluster:
        return EmbeddedCluster(self.home, port=self.ports["pg"])

    def load_secrets(self) -> None:
        for line in (self.home / "secrets.env").read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                self.secrets_[name.strip()] = value.strip()

    def conninfo(self, role: str) -> str:
        password = {SUPERUSER: "STUDIO_SUPERUSER_PASSWORD", API_ROLE: "STUDIO_API_PASSWORD",
                    WORKER_ROLE: "STUDIO_WORKER_PASSWORD"}[role]
        return self.cluster().conninfo(role, self.secrets_[password], DB_NAME)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(SUPERUSER), autocommit=True)

    def postmaster_pid(self) -> int:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.cluster().data_dir / "postmaster.pid").read_text().split()[0])
        return -1

    def cpu(self) -> CpuSampler:
        return CpuSampler([os.getpid(), self.postmaster_pid()], named={"api_process": self.api_pid()})

    def api_pid(self) -> int:
        """The `studio api` process that `studio up` started (uvicorn; its workers run under it)."""
        if self.up is None or self.up.poll() is not None:
            return -1
        for pid, (ppid, _) in _proc_table().items():
            if ppid == self.up.pid:
                with contextlib.suppress(OSError):
                    if b"\0api" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        return pid
        return -1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"

    # ------------------------------------------------------------------ processes

    def run_cli(self, *argv: str, timeout: float) -> str:
        log_path = self.tmp / f"cli-{argv[0]}-{time.monotonic_ns()}.log"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "studio", *argv], env=self.env(), cwd=self.tmp,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            self.children.append(proc)
            try:
                proc.wait(timeout=timeout)
            finally:
                self._stop_child(proc, grace=20)
                self.children.remove(proc)
        text = log_path.read_text(errors="replace")
        if proc.returncode != 0:
            raise Failed(f"`studio {' '.join(argv)}` failed ({proc.returncode}):\n{text[-3000:]}")
        return text

    def start_up(self, pgbouncer: bool, workers: int) -> None:
        assert self.up is None
        self.workers, self.pgbouncer = workers, pgbouncer
        self.up_log = self.tmp / f"up-{'pgbouncer' if pgbouncer else 'direct'}.log"
        cmd = [sys.executable, "-m", "studio", "up", *(["--pgbouncer"] if pgbouncer else [])]
        with open(self.up_log, "wb") as out:
            self.up = subprocess.Popen(cmd, env=self.env(), cwd=self.tmp, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.up.poll() is not None:
                raise Failed(f"`studio up` exited ({self.up.returncode}):\n{self._up_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    log.info("studio up%s (%d API process%s) is ready at %s", " --pgbouncer" if pgbouncer else "",
                             workers, "es" if workers > 1 else "", self.url)
                    return
            time.sleep(0.3)
        raise Failed(f"`studio up` not ready within 180 s:\n{self._up_tail()}")

    def _up_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            assert self.up_log is not None
            return "\n".join(self.up_log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop_up(self) -> None:
        if self.up is None:
            return
        proc, self.up = self.up, None
        self._stop_child(proc, grace=90)
        if proc.returncode not in (0, -signal.SIGTERM):
            log.warning("`studio up` ended with %s:\n%s", proc.returncode, self._up_tail(15))

    def _stop_child(self, proc: subprocess.Popen[bytes], grace: float) -> None:
        """SIGTERM, then SIGKILL to its process group (it was started in a session of its own)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def run_child(self, cmd: list[str], *, timeout: float,
                  env: dict[str, str] | None = None) -> tuple[int, str, str]:
        proc = subprocess.Popen(cmd, env=env or os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=self.tmp)
        self.children.append(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop_child(proc, grace=5)
            out, err = proc.communicate()
            raise Failed(f"{Path(cmd[0]).name} did not finish within {timeout:.0f} s:\n{err.decode()[-2000:]}")
        finally:
            self.children.remove(proc)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def cleanup(self) -> None:
        for proc in list(self.children):
            self._stop_child(proc, grace=5)
        self.children.clear()
        self.stop_up()
        cluster = self.cluster() if self.ports else None
        if cluster is not None and cluster.is_initialized():
            with contextlib.suppress(Exception):
                cluster.stop(mode="immediate")
        link = self.home / "pg"
        if link.is_symlink():  # relocated cluster (the temporary directory is root-only)
            shutil.rmtree(link.resolve(), ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ 0. data

    def seed(self) -> dict[str, Any]:
        t = time.monotonic()
        log.info("seeding %s users, %s rows (studio dev seed)", f"{self.args.users:,}", f"{self.args.rows:,}")
        self.run_cli("dev", "seed", "--users", str(self.args.users), "--rows", str(self.args.rows),
                           "--seed", "1", timeout=3600)
        seconds = time.monotonic() - t
        self.load_secrets()
        log.info("seeded in %.0f s", seconds)
        return {"users": self.args.users, "rows": self.args.rows, "seconds": round(seconds, 1)}

    def table_counts(self) -> dict[str, int]:
        tables = ("users", "sessions", "conversations", "messages", "generations", "jobs", "datasets",
                  "training_jobs", "webhook_deliveries", "audit_log", "media_objects")
        with self.admin() as conn:
            out = {}
            for table in tables:
                row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table))
                                   ).fetchone()
                out[table] = int(row[0]) if row else 0
            size = conn.execute("SELECT pg_catalog.pg_database_size(%s)", (DB_NAME,)).fetchone()
            out["_database_mb"] = round(size[0] / 1024 / 1024) if size else 0
        return out

    def pg_settings(self) -> dict[str, str]:
        with self.admin() as conn:
            return {name: conn.execute("SELECT pg_catalog.current_setting(%s)", (name,)).fetchone()[0]
                    for name in ("server_version", "max_connections", "shared_buffers", "fsync",
                                 "synchronous_commit")}

    def bench_user(self) -> dict[str, Any]:
        """Sign up and log in through the API; create the user's conversations through it."""
        password = secrets.token_urlsafe(18)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            r = client.post("/v1/auth/signup", json={"email": BENCH_EMAIL, "password": password,
                                                     "display_name": "Load benchmark"})
            if r.status_code != 201:
                raise Failed(f"signup: {r.status_code} {r.text}")
            r = client.post("/v1/auth/login", json={"email": BENCH_EMAIL, "password": password})
            if r.status_code != 200:
                raise Failed(f"login: {r.status_code} {r.text}")
            token = client.cookies.get(auth_tokens.SESSION_COOKIE)
            if not token:
                raise Failed("login set no session cookie")
            body = r.json()
            csrf, user_id = body["csrf_token"], body["user"]["id"]
            for i in range(self.args.conversations):
                r = client.post("/v1/conversations", json={"title": f"Benchmark conversation {i + 1}"},
                                headers={auth_tokens.CSRF_HEADER: csrf})
                if r.status_code != 201:
                    raise Failed(f"creating a conversation: {r.status_code} {r.text}")
        log.info("benchmark user %s: %d conversations created through the API", user_id, self.args.conversations)
        return {"token": token, "user_id": user_id, "conversations": self.args.conversations}

    # ------------------------------------------------------------------ pgbench

    def pgbench(self, scripts: list[Path], *, role: str, clients: int, threads: int, defines: dict[str, str],
                seconds: float | None = None, transactions: int | None = None, rate: float | None = None,
                log_prefix: Path | None = None, per_statement: bool = True, protocol: str = "prepared") -> str:
        params = conninfo_to_dict(self.conninfo(role))
        cmd = [str(self.pgbench_bin), "-n", "-M", protocol, "-c", str(clients), "-j", str(threads),
               "-h", str(params["host"]), "-p", str(params["port"]), "-U", role]
        cmd += ["-T", str(int(seconds))] if seconds is not None else ["-t", str(transactions)]
        if rate:
            cmd += ["-R", str(rate)]
        if per_statement:
            cmd.append("-r")
        if log_prefix is not None:
            cmd += ["-l", f"--log-prefix={log_prefix}"]
        for name, value in defines.items():
            cmd += ["-D", f"{name}={value}"]
        for script in scripts:
            cmd += ["-f", f"{script}@1" if len(scripts) > 1 else str(script)]
        cmd.append(DB_NAME)
        env = {**os.environ, "PGPASSWORD": str(params["password"])}
        rc, out, err = self.run_child(cmd, timeout=(seconds or 60) + 120, env=env)
        parsed = parse_pgbench(out)
        if rc != 0 or parsed["transactions"] == 0 or parsed["failed"]:
            raise Failed(f"pgbench failed ({rc}):\n{err[-3000:]}\n{out[-2000:]}")
        return out

    def _script_file(self, name: str, text: str) -> Path:
        path = self.tmp / "scripts" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return path

    # ------------------------------------------------------------------ 1. RLS-scoped read

    def read_statements(self) -> list[Statement]:
        """What GET /v1/conversations sends, from the code: the user scope's opening, the
        guard of ApiDatabase.run_as_user and chat.repository.conversations_page(after=None,
        limit=20) (which list_conversations runs)."""
        calls = scope_begin("user") + [(scopes._NO_USER_NO_ACCESS, {})] + recorded(
            lambda conn: chat_repo.list_conversations(user_scope(conn), after=None, limit=PAGE_LIMIT))
        if calls[-1][0] != chat_repo._LIST_FIRST:
            raise Failed("chat.repository.list_conversations no longer sends _LIST_FIRST for a first page")
        variables = {**COMMON_VARIABLES, _key(S_TOKEN_HASH): "token_hash"}
        checks = [None, "id", None, "id"]
        return [Statement(to_pgbench(q, p, variables), check) for (q, p), check in zip(calls, checks)]

    def verify_read(self, user: dict[str, Any], statements: list[Statement], defines: dict[str, str]) -> dict[str, Any]:
        """The same rows three ways: psycopg with the code's SQL as studio_api, the pgbench
        script itself, and the API."""
        with self.admin() as conn:
            expected = [str(r[0]) for r in conn.execute(
                "SELECT id FROM public.conversations WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT %s",
                (user["user_id"], S_LIMIT)).fetchall()]
        if len(expected) < min(S_LIMIT, user["conversations"]):
            raise Failed(f"the benchmark user has {len(expected)} conversations")
        token_hash = auth_tokens.token_hash(user["token"])
        with psycopg.connect(self.conninfo(API_ROLE)) as conn, conn.transaction():
            conn.execute(scopes._BEGIN_ANON, {"request_id": "load-bench-check", "client_ip": "127.0.0.1",
                                              "user_agent": "load_bench"})
            me = conn.execute(scopes._AUTHENTICATE, {"kind": "session", "token_hash": token_hash}).fetchone()
            conn.execute(scopes._NO_USER_NO_ACCESS)
            rows = conn.execute(chat_repo._LIST_FIRST, {"limit": S_LIMIT}).fetchall()
        psycopg_ids = [str(r[0]) for r in rows]
        if me is None or str(me[0]) != user["user_id"] or psycopg_ids != expected:
            raise Failed(f"psycopg as studio_api: user {me}, rows {psycopg_ids[:3]}... != {expected[:3]}...")
        script = self._script_file("read-verify.sql", render_script(statements, [REQUEST_ID_SET, PAGE_LIMIT_SET],
                                                                    "", [], verify=True, label="read"))
        out = self.pgbench([script], role=API_ROLE, clients=1, threads=1, defines=defines, transactions=1,
                           per_statement=False)
        m = re.search(r"VERIFY read (\S+) (\S+)", out)
        if not m or m.group(1) != user["user_id"] or m.group(2) != expected[-1]:
            raise Failed(f"the pgbench script authenticated/returned {m.groups() if m else out[-500:]}, expected "
                         f"user {user['user_id']} and last row {expected[-1]}")
        r = httpx.get(f"{self.url}/v1/conversations", cookies={auth_tokens.SESSION_COOKIE: user["token"]},
                      timeout=30)
        api_ids = [item["id"] for item in r.json().get("items", [])] if r.status_code == 200 else []
        if api_ids != expected[:PAGE_LIMIT]:
            raise Failed(f"GET /v1/conversations: {r.status_code} {api_ids[:3]}... != {expected[:3]}...")
        log.info("verified: psycopg, pgbench and the API all return the user's %d newest conversations", len(expected))
        return {"rows_per_query": len(expected), "psycopg_rows_match": True, "pgbench_user_and_last_row_match": True,
                "api_page_matches": True, "api_page_size": len(api_ids)}

    def wrk(self, token: str, seconds: float, connections: int, threads: int, *, url: str | None = None,
            api_pid: int | None = None) -> dict[str, Any]:
        assert self.wrk_bin
        cmd = [self.wrk_bin, f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
               "-H", f"Cookie: {auth_tokens.SESSION_COOKIE}={token}", f"{url or self.url}/v1/conversations"]
        cpu = self.cpu() if api_pid is None else CpuSampler([os.getpid(), self.postmaster_pid()],
                                                             named={"api_process": api_pid})
        _, out, err = self.run_child(cmd, timeout=seconds + 60)
        result = parse_wrk(out)
        result["cpu"] = cpu.stop()
        if not result["requests_per_s"]:
            raise Failed(f"wrk gave no figures:\n{out}\n{err}")
        return result

    @contextlib.contextmanager
    def side_server(self, server: str, workers: int) -> Iterator[tuple[str, int]]:
        """The app on a port of its own, next to the running `studio up` and its database,
        with the same settings; yields (url, pid). "granian": `studio api` with
        STUDIO_API_SERVER=granian, the same app under granian.
        "reference": `studio api` (uvicorn) from the source tree --reference-src, for a
        before/after of a change in one run."""
        port = free_port()
        env = self.env(STUDIO_PORT=str(port))
        cmd = [sys.executable, "-m", "studio", "api"]
        if server == "granian":
            env["STUDIO_API_SERVER"] = "granian"
        else:
            env["PYTHONPATH"] = str(Path(self.args.reference_src).resolve())
        log_path = self.tmp / f"{server}-{workers}.log"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=self.tmp, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.children.append(proc)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    # /healthz: a reference tree may expect an older schema, which /readyz reports
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise Failed(f"{server} did not serve:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.3)
            yield url, proc.pid
        finally:
            self._stop_child(proc, grace=20)
            self.children.remove(proc)

    def rls_read(self, user: dict[str, Any]) -> dict[str, Any]:
        statements = self.read_statements()
        defines = {**COMMON_DEFINES, "token_hash": "\\x" + auth_tokens.token_hash(user["token"]).hex(),
                   "user_id": user["user_id"]}
        verification = self.verify_read(user, statements, defines)
        prelude = [REQUEST_ID_SET, PAGE_LIMIT_SET]
        scripts = {
            "statements": self._script_file("read.sql", render_script(statements, prelude, "", [])),
            "pipelined": self._script_file("read-pipelined.sql",
                                           render_script(statements, prelude, "", [], pipeline_after=1)),
            "one_message": self._script_file("read-one-message.sql", render_one_message(statements, prelude)),
        }
        protocols = {"statements": "prepared", "pipelined": "prepared", "one_message": "simple"}
        a = self.args
        servers = [*a.servers, *(["reference"] if a.reference_src else [])]
        rounds = []
        for i in range(a.rounds):
            row: dict[str, Any] = {"round": i + 1, **{SERVER_KEYS[server]: {} for server in servers}}
            for workers in a.api_workers:
                self.restart_up(pgbouncer=False, workers=workers)
                for server in servers:
                    with contextlib.ExitStack() as stack:
                        url, pid = (stack.enter_context(self.side_server(server, workers)) if server != "uvicorn"
                                    else (self.url, self.api_pid()))
                        if a.warmup_seconds:
                            self.wrk(user["token"], a.warmup_seconds, a.wrk_connections, a.wrk_threads, url=url,
                                     api_pid=pid)
                        sampler = ConnectionSampler(self.conninfo(SUPERUSER))
                        with sampler:
                            wrk = self.wrk(user["token"], a.seconds, a.wrk_connections, a.wrk_threads, url=url,
                                           api_pid=pid)
                    wrk["server_connections"] = sampler.result()
                    wrk["cpu_ms_per_request"] = round(
                        1000 * wrk["cpu"].get("api_process_cores", 0) / wrk["requests_per_s"], 3)
                    row[SERVER_KEYS[server]][str(workers)] = wrk
                    log.info("round %d wrk, %s, %d API process%s: %.0f req/s (p50 %s ms, p99 %s ms, non-2xx %d, "
                             "socket errors %s, API CPU %.3f ms/request)", i + 1, server, workers,
                             "es" if workers > 1 else "", wrk["requests_per_s"], wrk["latency_ms"].get("p50"),
                             wrk["latency_ms"].get("p99"), wrk["non_2xx_3xx"], wrk["socket_errors"],
                             wrk["cpu_ms_per_request"])
            for variant, script in scripts.items():
                cpu = self.cpu()
                out = self.pgbench([script], role=API_ROLE, clients=a.wrk_connections, threads=a.wrk_threads,
                                   defines=defines, seconds=a.seconds, protocol=protocols[variant])
                parsed = parse_pgbench(out)
                parsed["cpu"] = cpu.stop()
                parsed["statement_latencies"] = parse_statement_latencies(out)
                row[f"pgbench_{variant}"] = parsed
                log.info("round %d pgbench (%s): %.0f tps, %d failed", i + 1, variant, parsed["tps"], parsed["failed"])
            rounds.append(row)
        by_workers = {n: max(r["wrk_by_workers"][n]["requests_per_s"] for r in rounds) for n in rounds[0]["wrk_by_workers"]}
        best_workers = max(by_workers, key=lambda n: by_workers[n])
        others = {server: {n: max(r[key][n]["requests_per_s"] for r in rounds) for n in rounds[0][key]}
                  for server, key in SERVER_KEYS.items() if server != "uvicorn" and key in rounds[0]}
        best = {
            "api_rps": by_workers[best_workers], "api_workers": int(best_workers), "api_rps_by_workers": by_workers,
            **{f"{server}_rps_by_workers": rps for server, rps in others.items()},
            **{f"pgbench_{v}_tps": max(r[f"pgbench_{v}"]["tps"] for r in rounds) for v in scripts},
        }
        reference = max(scripts, key=lambda v: best[f"pgbench_{v}_tps"])
        best["reference"] = reference
        best["ratio"] = round(best["api_rps"] / best[f"pgbench_{reference}_tps"], 3)
        for v in scripts:
            best[f"ratio_vs_{v}"] = round(best["api_rps"] / best[f"pgbench_{v}_tps"], 3)
        return {"verification": verification, "rounds": rounds, "best": best,
                "script": scripts["statements"].read_text(), "script_pipelined": scripts["pipelined"].read_text(),
                "script_one_message": scripts["one_message"].read_text(),
                "pgbench_defines": {k: ("<sha256 of the session token>" if k == "token_hash" else v)
                                    for k, v in defines.items()}}

    # ------------------------------------------------------------------ 2. open loop

    def restart_up(self, pgbouncer: bool, workers: int) -> None:
        if self.up is not None and self.workers == workers and self.pgbouncer == pgbouncer:
            return
        self.stop_up()
        self.start_up(pgbouncer=pgbouncer, workers=workers)

    def open_loop_at_fraction(self, token: str, mode: str) -> dict[str, Any]:
        """The maximum at --open-connections connections (wrk), then the open loop at
        --open-fraction of it (or at --open-rate, without measuring)."""
        a = self.args
        if a.open_rate:
            return self.open_loop(token, a.open_rate, mode)
        most = self.wrk(token, a.seconds, a.open_connections, a.wrk_threads)
        log.info("wrk %s, %d connections: %.0f req/s (p50 %s ms, p99 %s ms)", mode, a.open_connections,
                 most["requests_per_s"], most["latency_ms"].get("p50"), most["latency_ms"].get("p99"))
        result = self.open_loop(token, most["requests_per_s"] * a.open_fraction, mode)
        result["wrk_max"] = most
        return result

    def open_loop(self, token: str, rate: float, mode: str) -> dict[str, Any]:
        a = self.args
        out_path = self.tmp / f"openloop-{mode}-{rate:.0f}.json"
        cmd = [sys.executable, str(OPENLOOP), "--url", f"{self.url}/v1/conversations",
               "--connections", str(a.open_connections), "--rate", f"{rate:.1f}", "--duration", str(a.open_seconds),
               "--warmup", str(a.open_warmup), "--timeout", str(a.open_timeout), "--json-out", str(out_path)]
        env = {**os.environ, "OPENLOOP_HEADERS": f"Cookie: {auth_tokens.SESSION_COOKIE}={token}"}
        sampler = ConnectionSampler(self.conninfo(SUPERUSER))
        offset = self._log_offset()
        cpu = self.cpu()
        with sampler:
            _, _, err = self.run_child(cmd, timeout=a.open_seconds + a.open_warmup + a.open_timeout + 180,
                                       env=env)
        cpu_used = cpu.stop()
        if not out_path.exists():
            raise Failed(f"openloop.py wrote no report:\n{err[-3000:]}")
        result = json.loads(out_path.read_text())
        result["server_connections"] = sampler.result()
        result["cpu"] = cpu_used
        result["mode"] = mode
        result["server_log"] = self._server_errors(offset)
        log.info("open loop %s at %.0f/s over %d connections: p50 %s ms, p99 %s ms, errors %s, peak server "
                 "connections %d (%s)", mode, rate, result["connections_opened"], result["latency_ms"]["p50"],
                 result["latency_ms"]["p99"], result["errors"] or 0, sampler.peak_total, sampler.peak_by_role)
        return result

    def _log_offset(self) -> int:
        return self.up_log.stat().st_size if self.up_log is not None and self.up_log.exists() else 0

    def _server_errors(self, offset: int) -> dict[str, Any]:
        """Warnings and errors `studio up` logged since `offset`, by logger, with the first
        message of each (what the server said about failures)."""
        if self.up_log is None or not self.up_log.exists():
            return {}
        with open(self.up_log, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
        out: dict[str, Any] = {}
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                if "Traceback" in line or "ERROR" in line:
                    item = out.setdefault("(not JSON)", {"count": 0, "first": line[:300]})
                    item["count"] += 1
                continue
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
                key = f"{entry.get('logger')} {entry['level']}"
                item = out.setdefault(key, {"count": 0, "first": str(entry.get("message"))[:300]})
                item["count"] += 1
        return out

    # ------------------------------------------------------------------ 3. audit latency table

    def _sessions_for(self, conn: psycopg.Connection[Any], user_ids: list[str]) -> dict[str, str]:
        """A session with a token known here for each user (seeded users cannot log in)."""
        out = {}
        for uid in dict.fromkeys(user_ids):
            token = secrets.token_urlsafe(32)
            conn.execute("INSERT INTO public.sessions (user_id, token_hash, expires_at, user_agent)"
                         " VALUES (%s, %s, pg_catalog.now() + interval '1 day', %s)",
                         (uid, hashlib.sha256(token.encode()).digest(), "load_bench"))
            out[uid] = "\\x" + hashlib.sha256(token.encode()).hexdigest()
        return out

    def audit_operations(self) -> list[Operation]:
        k = self.args.audit_users
        ops: list[Operation] = []
        with self.admin() as conn:
            heavy = conn.execute("SELECT id FROM public.users WHERE email = %s", ("seed1-user1@seed.studio.test",)
                                 ).fetchone()
            heavy_id = str(heavy[0]) if heavy else None

            def sample(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
                return [tuple(str(v) for v in r) for r in conn.execute(query, params).fetchall()]

            common_user = {_key(S_TOKEN_HASH): "token_hash", _key(S_USER): "user_id"}

            # --- list datasets: no such statement in src/ (no datasets endpoint yet).
            users = sample("SELECT user_id FROM (SELECT DISTINCT user_id FROM public.datasets) d"
                           " ORDER BY user_id = %s DESC, random() LIMIT %s", (heavy_id, k))
            if users:
                statements = scope_begin("user") + [(LIST_DATASETS, (S_USER, S_LIMIT))]
                ops.append(self._user_op(
                    conn, "list_datasets", "list datasets", statements, {**COMMON_VARIABLES, **common_user},
                    [{"user_id": u} for (u,) in users], ["token_hash", "user_id"],
                    source="not in src/ (no datasets endpoint yet): written here like chat's _LIST_FIRST, on "
                           "the datasets (user_id, created_at DESC, id DESC) index",
                    checks=[None, "id", "id"], prelude=[REQUEST_ID_SET, PAGE_LIMIT_SET]))

            # --- a conversation's messages: chat.repository.list_messages (whole tree).
            rows = sample("SELECT c.user_id, c.id FROM public.conversations c"
                          " WHERE EXISTS (SELECT 1 FROM public.messages m WHERE m.conversation_id = c.id)"
                          " ORDER BY random() LIMIT %s", (k,))
            if rows:
                calls = scope_begin("user") + recorded(lambda c: chat_repo.list_messages(
                    user_scope(c), conversation_id=S_CONVERSATION, leaf_id=None))
                ops.append(self._user_op(
                    conn, "conversation_messages", "a conversation's messages", calls,
                    {**COMMON_VARIABLES, **common_user, _key(S_CONVERSATION): "conversation_id"},
                    [{"user_id": u, "conversation_id": c} for u, c in rows],
                    ["token_hash", "user_id", "conversation_id"],
                    source="chat.repository.list_messages(leaf_id=None): the conversation check and the "
                           "messages (the API pipelines both; here one round trip each)",
                    checks=[None, "id", None, "id"], prelude=[REQUEST_ID_SET]))

            # --- create a generation: the endpoint's transaction.
            model = conn.execute("SELECT id, type, provider FROM public.model_registry"
                                 " WHERE enabled AND type = 'image' ORDER BY slug LIMIT 1").fetchone()
            users = sample("SELECT id FROM public.users WHERE email LIKE %s ORDER BY id = %s DESC, random() LIMIT %s",
                           ("seed%", heavy_id, k))
            if model and users:
                async def create(c: RecordingConnection) -> None:
                    tx = user_scope(c)
                    await generation_repo.visible_model(tx, model_id=S_MODEL)
                    await generation_repo.quota_state(tx, model_id=S_MODEL, default_jobs_per_day=0,
                                                      default_cost_cap_cents=0)
                    await generation_repo.create_generation(
                        tx, generation_id=S_GENERATION, type_=S_TYPE, model_id=S_MODEL, provider=S_PROVIDER,
                        prompt=S_PROMPT, params={},
                        enqueue=lambda: jobs_repo.enqueue(tx, kind="generation", generation_id=S_GENERATION))
                calls = scope_begin("user") + recorded(create)
                variables = {**COMMON_VARIABLES, **common_user, _key(S_MODEL): "model_id",
                             _key(str(S_USER)): "user_id", _key(S_GENERATION): "generation_id",
                             _key(S_TYPE): "gen_type", _key(S_PROVIDER): "gen_provider",
                             _key(S_PROMPT): "prompt", _key(Jsonb({})): "gen_params", _key("generation"): "job_kind"}
                ops.append(self._user_op(
                    conn, "create_generation", "create a generation", calls, variables,
                    [{"user_id": u} for (u,) in users], ["token_hash", "user_id"],
                    source="POST /v1/generations' transaction (generation.service.create_generation): "
                           "generation.repository.visible_model, quota_state (per-user advisory lock + usage), "
                           "create_generation with jobs.repository.enqueue (generation + its queue job)",
                    checks=[None, "id", "id", None, None, "id", None],
                    prelude=[REQUEST_ID_SET, "SELECT pg_catalog.gen_random_uuid() AS generation_id \\gset"],
                    defines={"model_id": str(model[0]), "gen_type": str(model[1]), "gen_provider": str(model[2]),
                             "prompt": "A watercolor painting of a lighthouse at dawn", "gen_params": "{}",
                             "job_kind": "generation"},
                    note="the generation's id comes from one `SELECT gen_random_uuid()` before BEGIN (the API "
                         "makes it in Python; pgbench cannot), counted in the transaction's time",
                    effect=("SELECT count(*) FROM public.generations g JOIN public.jobs j ON j.generation_id = g.id"
                            " WHERE g.prompt = 'A watercolor painting of a lighthouse at dawn'",
                            "generations with their job")))

            # --- update a training job's status: no such statement in src/ (no training worker yet).
            jobs = sample("SELECT id FROM public.training_jobs WHERE status IN ('queued', 'preparing', 'training')"
                          " ORDER BY random() LIMIT %s", (k,))
            if jobs:
                calls = [(TRAINING_STATUS, (S_STATUS, S_PERCENT, S_STEP, S_JOB))]
                ops.append(Operation(
                    "training_job_status", "update a training job's status", "worker",
                    "not in src/ (no training worker yet): written here from migration 0007's grants and "
                    "policy for studio_worker (status, progress, current_step of an unfinished job)",
                    [Statement(to_pgbench(q, p, {_key(S_STATUS): "status", _key(S_PERCENT): "percent",
                                                 _key(S_STEP): "step", _key(S_JOB): "job_id"}))
                     for q, p in calls],
                    ["\\set percent random(1, 99)", "\\set step random(1, 999)"],
                    [{"job_id": j} for (j,) in jobs], ["job_id"], defines={"status": "training"}, updates_rows=True,
                    effect=("SELECT n_tup_upd FROM pg_catalog.pg_stat_user_tables"
                            " WHERE relid = 'public.training_jobs'::regclass", "training_jobs rows updated")))

            # --- closest real code path: a running generation's progress (generation.repository.report_progress).
            gens = sample("SELECT id FROM public.generations WHERE status = 'running' ORDER BY random() LIMIT %s",
                          (k,))
            if gens:
                calls = recorded(lambda c: generation_repo.report_progress(
                    scopes.WorkerScope(c), generation_id=S_GENERATION, percent=S_PERCENT))  # type: ignore[arg-type]
                ops.append(Operation(
                    "generation_progress", "(closest real path) a running generation's progress", "worker",
                    "generation.repository.report_progress in the worker's transaction (JobContext.progress), "
                    "as generation/tasks.py runs it",
                    [Statement(to_pgbench(q, p, {_key(S_GENERATION): "generation_id", _key(S_PERCENT): "percent"}))
                     for q, p in calls],
                    ["\\set percent random(1, 99)"], [{"generation_id": g} for (g,) in gens], ["generation_id"],
                    updates_rows=True,
                    effect=("SELECT n_tup_upd FROM pg_catalog.pg_stat_user_tables"
                            " WHERE relid = 'public.generations'::regclass", "generations rows updated")))

            # --- webhook lookup by provider job id: public.record_webhook() (lookup + store + notify).
            pj = sample("SELECT provider, provider_job_id FROM public.generations WHERE provider_job_id IS NOT NULL"
                        " ORDER BY random() LIMIT %s", (k,))
            if pj:
                calls = scope_begin("anon") + recorded(lambda c: webhooks_repo.record_webhook(
                    scopes.AnonScope(c), provider=S_PROVIDER, delivery_id=S_DELIVERY,  # type: ignore[arg-type]
                    provider_job_id=S_JOB_ID_TEXT, payload_json=S_PAYLOAD))
                variables = {**COMMON_VARIABLES, _key(S_PROVIDER): "provider", _key(S_DELIVERY): "delivery_id",
                             _key(S_JOB_ID_TEXT): "provider_job_id", _key(S_PAYLOAD): "payload"}
                ops.append(Operation(
                    "webhook_lookup", "webhook lookup by provider job id", "anon",
                    "webhooks.repository.record_webhook: public.record_webhook() finds the generation by "
                    "(provider, provider_job_id) on the unique index and stores the delivery, in the anonymous scope",
                    [Statement(to_pgbench(q, p, variables), check)
                     for (q, p), check in zip(calls, [None, "generation_id"])],
                    [REQUEST_ID_SET, "\\set delivery_id random(1, 9000000000000000000)"],
                    [{"provider": p, "provider_job_id": j} for p, j in pj], ["provider", "provider_job_id"],
                    defines={"payload": '{"status": "succeeded", "source": "load_bench"}'},
                    note="the lookup is one statement inside record_webhook(), which also inserts the delivery "
                         "and notifies: measured as the API runs it",
                    effect=("SELECT count(*) FROM public.webhook_deliveries WHERE payload ->> 'source' = 'load_bench'"
                            " AND generation_id IS NOT NULL", "deliveries stored with their generation found")))
        return ops

    def _user_op(self, conn: psycopg.Connection[Any], name: str, label: str, calls: list[tuple[str, Any]],
                 variables: dict[Any, str], per_user: list[dict[str, str]], names: list[str], *, source: str,
                 checks: list[str | None], prelude: list[str], defines: dict[str, str] | None = None,
                 note: str = "", effect: tuple[str, str] | None = None) -> Operation:
        tokens = self._sessions_for(conn, [u["user_id"] for u in per_user])
        for values in per_user:
            values["token_hash"] = tokens[values["user_id"]]
        if len(checks) != len(calls):
            raise Failed(f"{name}: {len(calls)} statements, {len(checks)} checks: the repository changed")
        statements = [Statement(to_pgbench(q, p, variables), check) for (q, p), check in zip(calls, checks)]
        return Operation(name, label, "user", source, statements, prelude, per_user, names,
                         defines={**COMMON_DEFINES, **(defines or {})}, note=note,
                         expected_users=[u["user_id"] for u in per_user], effect=effect)

    def _effect(self, op: Operation) -> int:
        if op.effect is None:
            return 0
        with self.admin() as conn:
            row = conn.execute(op.effect[0]).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def run_operation(self, op: Operation) -> dict[str, Any]:
        a = self.args
        role = WORKER_ROLE if op.scope == "worker" else API_ROLE
        defines = dict(op.defines)
        for k, values in enumerate(op.per_user):
            for name, value in values.items():
                defines[f"{name}_{k}"] = value
        scripts = [self._script_file(f"{op.name}-{k}.sql", render_script(op.statements, op.prelude, f"_{k}",
                                                                          op.per_user_names))
                   for k in range(len(op.per_user))]
        # Verification: every user's transaction once, printing what it got.
        verify = "".join(render_script(op.statements, op.prelude, f"_{k}", op.per_user_names, verify=True,
                                       label=str(k)) for k in range(len(op.per_user)))
        effect_before = self._effect(op)
        out = self.pgbench([self._script_file(f"{op.name}-verify.sql", verify)], role=role, clients=1,
                           threads=1, defines=defines, transactions=1, per_statement=False)
        checked = re.findall(r"^VERIFY (\d+)(.*)$", out, re.MULTILINE)
        if len(checked) != len(op.per_user):
            raise Failed(f"{op.name}: the verification printed {len(checked)} of {len(op.per_user)} lines:\n{out}")
        for k, rest in checked:
            values = rest.split()
            wanted = sum(1 for st in op.statements if st.check)
            if len(values) != wanted or any(v.startswith(":") for v in values):
                raise Failed(f"{op.name} user {k}: a statement returned no row: {rest}")
            if op.scope == "user" and values[0] != op.expected_users[int(k)]:
                raise Failed(f"{op.name} user {k}: authenticated as {values[0]}, not {op.expected_users[int(k)]}")
        prefix = self.tmp / "logs" / op.name
        prefix.parent.mkdir(exist_ok=True)
        cpu = self.cpu()
        # Updates of a few rows: one client, or two clients would wait on each other's row
        # locks (one worker updates one job at a time).
        clients = 1 if op.updates_rows and len(op.per_user) < 10 else a.audit_clients
        out = self.pgbench(scripts, role=role, clients=clients, threads=min(clients, 2),
                           defines=defines, seconds=a.audit_seconds, rate=a.audit_rate, log_prefix=prefix)
        cpu_used = cpu.stop()
        latencies = read_pgbench_logs(prefix)
        effect = None
        if op.effect is not None:
            time.sleep(0.5)
            delta = self._effect(op) - effect_before
            done = len(latencies) + len(op.per_user)
            effect = {"what": op.effect[1], "delta": delta, "transactions": done}
            # An UPDATE may find nothing to change now and then (a progress already equal).
            if delta < 0.9 * done:
                raise Failed(f"{op.name}: {op.effect[1]} changed by {delta}, after {done} transactions")
        parsed = parse_pgbench(out)
        per_script = parse_statement_latencies(out)
        # Mean latency of each command over all users' scripts (weighted by transactions).
        commands: list[dict[str, Any]] = []
        if len(per_script) == 1:
            per_script[0]["transactions"] = 1
        total_tx = sum(s["transactions"] for s in per_script) or 1
        for s in per_script:
            for i, c in enumerate(s["commands"]):
                if i == len(commands):
                    commands.append({"command": re.sub(r"_\d+\b", "_k", c["command"]), "ms": 0.0})
                commands[i]["ms"] += c["ms"] * s["transactions"] / total_tx
        for c in commands:
            c["ms"] = round(c["ms"], 4)
        result = {
            "name": op.name, "label": op.label, "scope": op.scope, "role": role, "source": op.source,
            "note": op.note, "users": len(op.per_user), "clients": clients, "transactions": len(latencies),
            "failed": parsed["failed"],
            "tps": parsed["tps"], "p50_ms": round(percentile(latencies, 50) or 0, 3),
            "p90_ms": round(percentile(latencies, 90) or 0, 3), "p99_ms": round(percentile(latencies, 99) or 0, 3),
            "max_ms": round(max(latencies), 3) if latencies else None,
            "mean_ms": round(sum(latencies) / len(latencies), 3) if latencies else None,
            "command_mean_ms": commands, "cpu": cpu_used, "script_example": scripts[0].read_text(),
            "verified_users": len(checked), "effect": effect,
        }
        log.info("%s: p50 %.2f ms, p99 %.2f ms over %d transactions (%d users)", op.name, result["p50_ms"],
                 result["p99_ms"], len(latencies), len(op.per_user))
        return result

    def audit_table(self) -> dict[str, Any]:
        cluster = self.cluster()
        cluster.start()
        self.cluster_started = True
        try:
            ops = self.audit_operations()
            with self.admin() as conn:
                conn.execute("VACUUM (ANALYZE) public.sessions")
            results = [self.run_operation(op) for op in ops]
        finally:
            cluster.stop()
            self.cluster_started = False
        found = {op.name for op in ops}
        missing = [n for n in ("list_datasets", "conversation_messages", "create_generation", "training_job_status",
                               "generation_progress", "webhook_lookup") if n not in found]
        return {"operations": results, "missing_data": missing}


# Statements that do not exist in src/ (see the sources in the results), written in the
# repositories' style.
LIST_DATASETS = """
SELECT id, name, description, status, image_count, created_at, updated_at
  FROM public.datasets
 WHERE user_id = %s
 ORDER BY created_at DESC, id DESC
 LIMIT %s
"""
TRAINING_STATUS = """
UPDATE public.training_jobs SET status = %s, progress = %s, current_step = %s
 WHERE id = %s AND status IN ('queued', 'preparing', 'training')
"""


# ============================================================================ reports


def command_line(argv: list[str]) -> str:
    """The command as run; a --reference-src path (a checkout of this machine) as what it holds."""
    shown = list(argv)
    for i, arg in enumerate(shown[:-1]):
        if arg == "--reference-src":
            label = shown[shown.index("--reference-label") + 1] if "--reference-label" in shown else "a commit"
            shown[i + 1] = f"<a worktree of {label}>/src"
    return ".venv/bin/python bench/load_bench.py" + ("" if not shown else " " + shlex.join(shown))


def _processes(n: int | str) -> str:
    return f"{n} API process{'es' if int(n) > 1 else ''}"


def mode_name(key: str) -> str:
    """An open-loop run's key, `<direct|pgbouncer>/<API processes>`, for people."""
    mode, _, workers = key.partition("/")
    return f"{'direct' if mode == 'direct' else 'through PgBouncer'}, {_processes(workers or 1)}"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else (f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms")


SERVER_KEYS = {"uvicorn": "wrk_by_workers", "granian": "wrk_granian_by_workers",
               "reference": "wrk_reference_by_workers"}
PGBENCH_VARIANTS = {"statements": "one round trip per statement (-M prepared)",
                    "pipelined": "pipelined (2 round trips, -M prepared)",
                    "one_message": "in one message as the API sends it (1 round trip, -M simple)"}


def summary_rows(report: dict[str, Any]) -> list[str]:
    rows = []
    read = report.get("rls_read")
    if read:
        b = read["best"]
        for workers, rps in (b.get("api_rps_by_workers") or {"1": b["api_rps"]}).items():
            rows.append(f"| API, GET /v1/conversations (wrk, {report['settings']['wrk_connections']} connections), "
                        f"{_processes(workers)} | {rps:,.0f} req/s | | |")
        for workers, rps in (b.get("granian_rps_by_workers") or {}).items():
            rows.append(f"| the same app under granian (wrk, {report['settings']['wrk_connections']} connections), "
                        f"{_processes(workers)} | {rps:,.0f} req/s | | |")
        for workers, rps in (b.get("reference_rps_by_workers") or {}).items():
            rows.append(f"| reference: `studio api` from {report['settings'].get('reference_src_label', '--reference-src')} "
                        f"(wrk, {report['settings']['wrk_connections']} connections), {_processes(workers)} | "
                        f"{rps:,.0f} req/s | | |")
        for variant, label in PGBENCH_VARIANTS.items():
            if f"pgbench_{variant}_tps" in b:
                rows.append(f"| pgbench, the same SQL, {label} | {b[f'pgbench_{variant}_tps']:,.0f} tps | | |")
        rows.append(f"| API at best ({_processes(b.get('api_workers', 1))}) / pgbench ({b['reference']}, the fastest) | "
                    f"{b['ratio']:.0%} | >= {GOAL_RATIO:.0%} | "
                    f"{_met(b['ratio'] >= GOAL_RATIO)} |")
    for mode, run in (report.get("open_loop") or {}).items():
        name = mode_name(mode)
        conns = run["server_connections"]["peak_total"]
        rows.append(f"| 1,000 connections {name} at {run['rate_requested']:,.0f} req/s: errors | "
                    f"{run['errors_total']:,} of {run['requests_measured']:,} | 0 | {_met(run['errors_total'] == 0)} |")
        p99 = run["latency_ms"]["p99"]
        rows.append(f"| 1,000 connections {name}: p50 / p99 | {_fmt_ms(run['latency_ms']['p50'])} / {_fmt_ms(p99)} | "
                    f"p99 < 100 ms | {_met(p99 is not None and p99 < GOAL_P99_MS)} |")
        rows.append(f"| 1,000 connections {name}: peak server connections | {conns} | <= 20 | "
                    f"{_met(conns <= GOAL_SERVER_CONNECTIONS)} |")
    audit = report.get("audit")
    if audit:
        for op in audit["operations"]:
            rows.append(f"| at the database: {op['label']} p50 / p99 | {_fmt_ms(op['p50_ms'])} / "
                        f"{_fmt_ms(op['p99_ms'])} | p99 < 5 ms | {_met(op['p99_ms'] < GOAL_AUDIT_P99_MS)} |")
    return rows


def scrub(report: dict[str, Any]) -> dict[str, Any]:
    """No absolute path of this machine in the results."""
    text = json.dumps(report)
    for path, name in ((str(ROOT), "<repo>"), (sys.prefix, "<venv>"), (str(Path.home()), "~")):
        if len(path) > 1:
            text = text.replace(path, name)
    text = re.sub(r"(/[\w.-]+)*/studio-load-bench-[\w]+", "<tmp>", text)
    return json.loads(text)


def write_reports(report: dict[str, Any]) -> None:
    report = scrub(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    s, m = report["settings"], report["machine"]
    data = report["data"]
    lines = [
        "# Load benchmarks", "",
        f"{report['date']}; `{report['command']}`; {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, "
        "shared with other work (see *other load*).", "",
        f"Data: `studio dev seed --users {data['seed']['users']:,} --rows {data['seed']['rows']:,}` "
        f"({data['counts'].get('_database_mb', '?')} MB; "
        + ", ".join(f"{k} {v:,}" for k, v in data["counts"].items() if not k.startswith("_")) + "), plus the "
        f"benchmark user with {data['bench_user_conversations']} conversations created through the API. "
        f"PostgreSQL {report['pg_settings'].get('server_version')}, max_connections "
        f"{report['pg_settings'].get('max_connections')}, shared_buffers {report['pg_settings'].get('shared_buffers')}, "
        f"fsync {report['pg_settings'].get('fsync')}; Studio's API: uvicorn (uvloop, httptools), measured with "
        + " and with ".join(f"{_processes(n)} (`STUDIO_API_WORKERS`, pool max {m} connections each)"
                            for n, m in s["api_pool_max"].items())
        + "; rate limits off, backups off.", "",
        "## Summary", "",
        "| measure | figure | goal | |", "|:---|---:|:---|:---|",
        *summary_rows(report), "",
    ]
    read = report.get("rls_read")
    if read:
        lines += [
            "## 1. RLS-scoped read: the API under wrk, pgbench running the same SQL", "",
            f"`wrk -t{s['wrk_threads']} -c{s['wrk_connections']} -d{s['seconds']}s` against `GET /v1/conversations` "
            f"(first page, {PAGE_LIMIT} of the user's {data['bench_user_conversations']} conversations) with the session "
            f"cookie; then pgbench `-M prepared -c {s['wrk_connections']} -j {s['wrk_threads']} -T {s['seconds']}` "
            "as studio_api over the same Unix socket, running what the API sends for that request "
            "(SQL from `db/scopes.py` and `chat.repository.conversations_page` at run time): BEGIN; `_BEGIN_ANON`; "
            "`_AUTHENTICATE` with the session token's SHA-256; `_NO_USER_NO_ACCESS`; `_LIST_FIRST` (the user as "
            "auth.uid()) with limit 21; COMMIT; in three forms (below). "
            "Checked before measuring: psycopg (as studio_api), the pgbench script and the API return the same "
            f"{read['verification']['rows_per_query']} rows.", "",
            "| round | | req/s | p50 | p99 | non-2xx / socket errors | CPU: machine / API processes (cores) | "
            "other load (cores) |",
            "|---:|:---|---:|---:|---:|:---|:---|---:|",
        ]
        for r in read["rounds"]:
            for server, key in SERVER_KEYS.items():
                for workers, w in (r.get(key) or {}).items():
                    errs = sum(w["socket_errors"].values()) if w["socket_errors"] else 0
                    who = {"uvicorn": "API (uvicorn)", "granian": "the same app under granian",
                           "reference": f"reference: {s.get('reference_src_label')} (uvicorn)"}[server]
                    lines.append(f"| {r['round']} | {who}, {_processes(workers)} (wrk) | "
                                 f"{w['requests_per_s']:,.0f} | "
                                 f"{_fmt_ms(w['latency_ms'].get('p50'))} | {_fmt_ms(w['latency_ms'].get('p99'))} | "
                                 f"{w['non_2xx_3xx']} / {errs} | {w['cpu']['machine_cores']} / "
                                 f"{w['cpu'].get('api_process_cores', '?')} ({w.get('cpu_ms_per_request', '?')} ms "
                                 f"per request) | {w['cpu']['other_cores']} |")
            for variant, label in PGBENCH_VARIANTS.items():
                if f"pgbench_{variant}" not in r:
                    continue
                ps = r[f"pgbench_{variant}"]
                lines.append(f"| {r['round']} | pgbench, {label} | {ps['tps']:,.0f} tps | | | {ps['failed']} failed | "
                             f"{ps['cpu']['machine_cores']} / - | {ps['cpu']['other_cores']} |")
        b = read["best"]
        lines += [
            "", "Ratio (best of each): " + ", ".join(
                f"API / pgbench {PGBENCH_VARIANTS[v].split(' (')[0]} {b[f'ratio_vs_{v}']:.0%}"
                for v in PGBENCH_VARIANTS if f"ratio_vs_{v}" in b) + ". "
            "The API sends the whole request in one message (`ApiDatabase.run_as_user`: BEGIN, the switch to anon, "
            "the authentication, the guard, the query, COMMIT), values bound on the client; pgbench makes 6 round "
            "trips (per statement), 2 (pipelined: BEGIN + the switch to anon, then the rest; -M prepared prepares a "
            "pipeline's statements as it starts, and studio_api may not parse auth.authenticate() before the switch) "
            "or 1 (the API's own message). Each API process uses one core at most for its Python work "
            "(*API processes* above: all of them together, and their CPU per request); PostgreSQL, wrk and the API "
            "share the machine's cores.",
            "",
            "The pgbench script (per statement):", "", "```", read["script"].rstrip(), "```", "",
            *(["The same in one message (-M simple):", "", "```", read["script_one_message"].rstrip(), "```", ""]
              if read.get("script_one_message") else []),
        ]
    if report.get("open_loop"):
        lines += [
            "## 2. 1,000 concurrent connections, open loop", "",
            f"First the maximum of each configuration at {s['open_connections']:,} connections: `wrk "
            f"-t{s['wrk_threads']} -c{s['open_connections']} -d{s['seconds']}s` (closed loop). Then "
            f"`bench/openloop.py`: {s['open_connections']:,} keep-alive connections to `GET /v1/conversations`, "
            f"requests at a fixed rate ({s['open_fraction']:.0%} of that maximum) whatever the "
            f"answers, {s['open_seconds']} s measured after {s['open_warmup']} s of warm-up; latency from each "
            f"request's scheduled time; timeout {s['open_timeout']} s. Server connections: pg_stat_activity every "
            "50 ms (client backends of the studio database: the API's pool, or PgBouncer's server connections, and "
            "the worker's; LISTEN connections always go to the server directly).", "",
            "| | maximum (wrk) | rate | 2xx/s | p50 | p90 | p99 | max | errors | peak server connections (busy) | "
            "by role | API processes (cores) | other load (cores) |",
            "|:---|---:|---:|---:|---:|---:|---:|---:|:---|---:|:---|---:|---:|",
        ]
        for mode, run in report["open_loop"].items():
            lat, sc = run["latency_ms"], run["server_connections"]
            errors = ", ".join(f"{k} {v}" for k, v in run["errors"].items()) or "0"
            most = f"{run['wrk_max']['requests_per_s']:,.0f}" if run.get("wrk_max") else "(given)"
            lines.append(f"| {mode_name(mode)} | {most} | {run['rate_requested']:,.0f} | "
                         f"{run['throughput_2xx_per_s']:,.0f} | {_fmt_ms(lat['p50'])} | {_fmt_ms(lat['p90'])} | "
                         f"{_fmt_ms(lat['p99'])} | {_fmt_ms(lat['max'])} | {errors} | {sc['peak_total']} "
                         f"({sc['peak_busy']}) | " + ", ".join(f"{k} {v}" for k, v in sc["peak_by_role"].items())
                         + f" | {run['cpu'].get('api_process_cores', '?')} | {run['cpu']['other_cores']} |")
        lines += [""]
        for mode, run in report["open_loop"].items():
            if run.get("wrk_max"):
                w = run["wrk_max"]
                errs = sum(w["socket_errors"].values()) if w["socket_errors"] else 0
                lines.append(f"- {mode_name(mode)}, the maximum at {s['open_connections']:,} connections: "
                             f"{w['requests_per_s']:,.0f} req/s, p50 {_fmt_ms(w['latency_ms'].get('p50'))}, p99 "
                             f"{_fmt_ms(w['latency_ms'].get('p99'))}, non-2xx {w['non_2xx_3xx']}, socket errors {errs}; "
                             f"CPU: machine {w['cpu']['machine_cores']}, API {w['cpu'].get('api_process_cores', '?')} "
                             "cores")
        lines += ["", "Behind PgBouncer the API prepares no statements (`prepare_threshold=None`), so PostgreSQL "
                  "parses and plans each one, and PgBouncer's own process shares the cores.", ""]
        for mode, run in report["open_loop"].items():
            lines.append(f"- {mode_name(mode)}: {run['connections_opened']:,} connections opened in {run['connect_seconds']} s; "
                         f"server time (sent to answered) p50 {_fmt_ms(run['service_ms']['p50'])}, p99 "
                         f"{_fmt_ms(run['service_ms']['p99'])}; at most {run['peak_busy_connections']} requests in "
                         f"flight and {run['peak_waiting_requests']} waiting for a free connection; keep-alive "
                         f"connections reopened {run['reconnects']}, resent on a closed keep-alive "
                         f"{run['retried_stale_keepalive']}; generator CPU {run['generator_cpu_share']:.0%} of a core"
                         + (f"; warm-up errors {run['warmup_errors']}" if run["warmup_errors"] else "")
                         + ("; the server logged " + "; ".join(f"{k}: {v['count']} (`{v['first'][:120]}`)"
                                                              for k, v in run["server_log"].items())
                            if run.get("server_log") else "; the server logged no warning or error"))
        lines.append("")
    audit = report.get("audit")
    if audit:
        lines += [
            "## 3. The audit's latency table, at the database", "",
            f"Studio stopped, the cluster alone. pgbench `-M prepared -c {s['audit_clients']} -R {s['audit_rate']:g} "
            f"-T {s['audit_seconds']}` per operation (a light load: latency, not queueing), as the role Studio uses, "
            f"over up to {s['audit_users']} sampled users, or rows for the worker's updates (the heaviest seeded user "
            "first where it applies), one script each; updates of fewer than 10 rows run 1 client, as two would wait "
            "on each other's row locks; each transaction is the operation's whole transaction as Studio runs it (BEGIN, the "
            "scope's statements, the operation's statements, COMMIT; one round trip each, synchronous commit); "
            "p50/p99 from pgbench's per-transaction log (each transaction's own time: without the schedule lag "
            "that -R adds when a client falls behind). Every user's transaction was run once first and checked "
            "(authenticated as that user, each read returned rows), and each write's rows were counted in the "
            "database after the run. *COMMIT* is mostly the WAL flush (fsync on, synchronous commit).", "",
            "| operation | p50 | p99 | max | goal p99 < 5 ms | transactions | the operation's statements (mean) | "
            "COMMIT (mean) | SQL from |",
            "|:---|---:|---:|---:|:---|---:|---:|---:|:---|",
        ]
        for op in audit["operations"]:
            own = sum(c["ms"] for c in op["command_mean_ms"] if _is_operation_command(c["command"]))
            commit = sum(c["ms"] for c in op["command_mean_ms"] if c["command"].strip().upper() == "COMMIT;")
            lines.append(f"| {op['label']} | {_fmt_ms(op['p50_ms'])} | {_fmt_ms(op['p99_ms'])} | "
                         f"{_fmt_ms(op['max_ms'])} | {_met(op['p99_ms'] < GOAL_AUDIT_P99_MS)} | "
                         f"{op['transactions']:,} ({op['users']} {'rows' if op['scope'] == 'worker' else 'users'}, "
                         f"{op['clients']} client{'s' if op['clients'] > 1 else ''}) | {own:.3f} ms | {commit:.3f} ms | "
                         f"{op['source']}"
                         + (f"; {op['note']}" if op["note"] else "") + " |")
        if audit["missing_data"]:
            lines += ["", f"Not measured (the seeded data has none to work on): {', '.join(audit['missing_data'])}."]
        lines += ["", "Two of the audit's operations have no statement in src/ yet: *list datasets* (no datasets "
                  "endpoint) and *update a training job's status* (no training worker). Their rows measure the "
                  "statement such code would send, written in the benchmark; the closest real code path for a job's "
                  "status, a running generation's progress update by the worker, is measured next to it.", ""]
    lines += [
        "## Machine and command", "",
        f"- {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
        f"psycopg {m['psycopg']}; load average at start {report['loadavg_start']}",
        f"- {report['tools'].get('wrk')}; {report['tools'].get('pgbench')}; {report['tools'].get('pgbouncer')}",
        f"- Date: {report['date']}; total {report['total_seconds']:.0f} s",
        f"- Command: `{report['command']}`", "",
        "Raw figures: [load.json](load.json).", "",
    ]
    (RESULTS_DIR / "load.md").write_text("\n".join(lines))
    update_readme(report)


def _is_operation_command(command: str) -> bool:
    text = command.strip().rstrip(";").upper()
    return not (text in ("BEGIN", "COMMIT") or text.startswith("\\") or "SET_CONFIG('ROLE', 'ANON'" in text
                or "AUTH.AUTHENTICATE" in text or "GEN_RANDOM_UUID() AS GENERATION_ID" in text)


def update_readme(report: dict[str, Any]) -> None:
    start, end = "<!-- load-bench:start -->", "<!-- load-bench:end -->"
    write_readme_section(start, end, [
        "## Load (`load_bench.py`)", "",
        "The API (uvicorn) under wrk next to pgbench running the very SQL the API sends for the same request "
        "(a user's conversations, first page, RLS-scoped), 1,000 concurrent connections in an open loop "
        "(`openloop.py`) at 70% of the maximum at 1,000 connections, direct and through PgBouncer, and the "
        "audit's latency table at the database, on data from `studio dev seed`. The API parts run with 1 API "
        "process and with one per core (`STUDIO_API_WORKERS`). Starts `studio up` in a temporary home and "
        "removes it. About 12-14 minutes at the defaults (1M rows, 10k users); needs wrk, pgbench and pgbouncer "
        "(`apt-get install wrk pgbouncer`).", "",
        "```sh",
        ".venv/bin/python bench/load_bench.py [--users 10000] [--rows 1000000] [--seconds 30] [--open-seconds 30] "
        "[--audit-seconds 20] [--api-workers 1 2]",
        "```", "",
        f"Last run: {report['date']}, `{report['command']}`.", "",
        "| measure | figure | goal | |", "|:---|---:|:---|:---|",
        *summary_rows(report), "",
        "Details: [results/load.md](results/load.md), raw: [results/load.json](results/load.json). "
        "`openloop.py` also works alone: `.venv/bin/python bench/openloop.py --url http://127.0.0.1:8000/v1/... "
        "--connections 1000 --rate 500 --duration 30` (headers with `--header` or `OPENLOOP_HEADERS`).",
    ])


# ============================================================================ main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=10_000, help="studio dev seed --users")
    p.add_argument("--rows", type=int, default=1_000_000, help="studio dev seed --rows")
    p.add_argument("--conversations", type=int, default=50, help="the benchmark user's conversations")
    p.add_argument("--seconds", type=int, default=30, help="each wrk and pgbench run of part 1")
    p.add_argument("--rounds", type=int, default=1, help="part 1: wrk + pgbench rounds (the best of each counts)")
    p.add_argument("--warmup-seconds", type=int, default=3, help="part 1: a wrk run first, not counted")
    p.add_argument("--wrk-connections", type=int, default=50)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--api-workers", type=int, nargs="+",
                   help="STUDIO_API_WORKERS to measure, each in parts 1 and 2 (default: 1 and the cores this "
                        "process may use)")
    p.add_argument("--api-pool-max", type=int,
                   help="STUDIO_POOL_MAX_SIZE per API process (default: 16 / processes, at least 2)")
    p.add_argument("--servers", nargs="+", choices=["uvicorn", "granian"],
                   help="part 1: the ASGI servers to measure the same app under (default: uvicorn, which "
                        "`studio api` runs, and granian when it is installed: pip install granian)")
    p.add_argument("--reference-src", help="part 1: also `studio api` from this source tree (e.g. a worktree of an "
                                           "earlier commit), side by side in each round: a change's before/after")
    p.add_argument("--reference-label", default="", help="what --reference-src is, for the report (a commit)")
    p.add_argument("--open-connections", type=int, default=1000)
    p.add_argument("--open-fraction", type=float, default=0.70,
                   help="of the maximum at --open-connections connections, measured first")
    p.add_argument("--open-rate", type=float, help="requests/s of part 2 (default: measured, see --open-fraction)")
    p.add_argument("--open-seconds", type=int, default=30)
    p.add_argument("--open-warmup", type=int, default=3)
    p.add_argument("--open-timeout", type=float, default=5.0)
    p.add_argument("--pgbouncer-pool-size", type=int, default=20)
    p.add_argument("--no-pgbouncer", action="store_true", help="part 2 direct only")
    p.add_argument("--audit-seconds", type=int, default=20)
    p.add_argument("--audit-rate", type=float, default=200, help="transactions/s of each audit run, all clients")
    p.add_argument("--audit-clients", type=int, default=2)
    p.add_argument("--audit-users", type=int, default=20)
    p.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    p.add_argument("--no-write", action="store_true", help="print the report, do not write bench/results")
    p.add_argument("--from-json", help="only write load.md and the README section again from this load.json")
    args = p.parse_args(argv)
    args.api_workers = sorted(set(args.api_workers or [1, len(os.sched_getaffinity(0))]))
    if not args.servers:
        args.servers = ["uvicorn"] + (["granian"] if importlib.util.find_spec("granian") else [])
    return args


def pool_max(args: argparse.Namespace, workers: int) -> int:
    """STUDIO_POOL_MAX_SIZE per API process: the API's connections in all stay within the
    goal's 20 with the worker's."""
    return args.api_pool_max or max(2, 16 // workers)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.from_json:
        write_reports(json.loads(Path(args.from_json).read_text()))
        return 0
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    nofile = raise_nofile()
    started = time.monotonic()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    loadavg_start = [round(x, 2) for x in os.getloadavg()]
    bench = Bench(args)
    report: dict[str, Any] = {
        "benchmark": "load", "date": date, "command": command_line(argv), "machine": machine_facts(),
        "loadavg_start": loadavg_start, "rlimit_nofile": nofile,
        "goals": {"api_vs_pgbench_ratio": GOAL_RATIO, "open_loop_errors": 0, "open_loop_p99_ms": GOAL_P99_MS,
                  "server_connections": GOAL_SERVER_CONNECTIONS, "audit_p99_ms": GOAL_AUDIT_P99_MS},
    }
    try:
        bench.check_tools()
        bench.ports = {"http": free_port(), "pg": free_port(), "pgbouncer": free_port()}
        report["tools"] = {"wrk": tool_version([bench.wrk_bin or "wrk", "--version"]),
                           "pgbench": tool_version([str(bench.pgbench_bin), "--version"]),
                           "pgbouncer": tool_version(["pgbouncer", "--version"]) if not args.no_pgbouncer else None}
        seeded = bench.seed()
        bench.start_up(pgbouncer=False, workers=args.api_workers[0])
        report["pg_settings"] = bench.pg_settings()
        user = bench.bench_user()
        report["data"] = {"seed": seeded, "counts": bench.table_counts(),
                          "bench_user_conversations": user["conversations"]}
        if 1 in args.parts:
            report["rls_read"] = bench.rls_read(user)
        report["open_loop"] = {}
        for mode in ("direct", "pgbouncer"):
            if 2 not in args.parts or (mode == "pgbouncer" and args.no_pgbouncer):
                continue
            for workers in args.api_workers:
                bench.restart_up(pgbouncer=mode == "pgbouncer", workers=workers)
                run = bench.open_loop_at_fraction(user["token"], mode)
                run["api_workers"] = workers
                report["open_loop"][f"{mode}/{workers}"] = run
        bench.stop_up()
        if 3 in args.parts:
            report["audit"] = bench.audit_table()
    except KeyboardInterrupt:
        log.error("interrupted; stopping everything")
        return 130
    except Failed as exc:
        log.error("%s", exc)
        return 1
    finally:
        bench.cleanup()
    report["settings"] = {
        "users": args.users, "rows": args.rows, "seconds": args.seconds, "rounds": args.rounds,
        "wrk_connections": args.wrk_connections, "wrk_threads": args.wrk_threads,
        "open_connections": args.open_connections, "open_fraction": args.open_fraction,
        "open_rate": args.open_rate, "open_seconds": args.open_seconds,
        "open_warmup": args.open_warmup, "open_timeout": args.open_timeout,
        "pgbouncer_pool_size": args.pgbouncer_pool_size, "audit_seconds": args.audit_seconds,
        "audit_rate": args.audit_rate, "audit_clients": args.audit_clients, "audit_users": args.audit_users,
        "servers": args.servers, "reference_src_label": args.reference_label or args.reference_src,
        "api_workers": args.api_workers, "api_pool_max": {str(n): pool_max(args, n) for n in args.api_workers},
    }
    report["total_seconds"] = round(time.monotonic() - started, 1)
    if args.no_write:
        print(json.dumps(report, indent=2))
    else:
        write_reports(report)
        print((RESULTS_DIR / "load.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
