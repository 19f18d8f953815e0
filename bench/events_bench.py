#!/usr/bin/env python3
"""Live events at scale: thousands of idle `GET /v1/events` streams on ONE API process.

    .venv/bin/python bench/events_bench.py [--levels 1000 2500 5000] [--users 500]
                                           [--rate 50] [--rounds 2] [--round-seconds 15]

A throwaway `studio up` (embedded PostgreSQL, STUDIO_API_WORKERS=1, rate limits and
backups off). Users are written by the database superuser with a session whose token
only this script knows (as bench/load_bench.py does for its audit part): signing up
thousands of people would cost an argon2 hash each and measure sign-up, not events.
Each user has one running generation.

For each level (a ramp: the streams of a level stay open for the next one), the
subscribers are spread over the users (--users, so 5,000 streams are 10 open pages per
user), and once they are open and idle the script records:

- the API's connections listening for events in pg_stat_activity (must stay 1);
- the API process's RSS, PSS and USS (/proc/<pid>/smaps_rollup) less the figures with
  no stream open, per stream, and its CPU while the streams only sit there;
- then --rounds rounds of --round-seconds of progress at --rate events/s over all the
  users, made the way a worker makes them: the worker's own progress UPDATE
  (generation.repository.report_progress) as `studio_worker`, whose trigger writes the
  event and sends NOTIFY studio_events with the user id. Delivery latency runs from
  just before that transaction's COMMIT (when the NOTIFY is sent) to the moment the
  client reads the event off its socket; every stream must get each of its own user's
  events exactly once and nobody else's.

The client is one asyncio loop with a bare protocol per connection (a hand-written
HTTP/1.1 GET with the session cookie, chunked decoding and SSE parsing), so 5,000
streams cost it little; its CPU is recorded, next to the machine's (the machine is
shared). Writes bench/results/events.md and events.json and its section of
bench/README.md. Everything started here is stopped and removed, also on failure or
Ctrl-C. tests/e2e/test_events_bench_e2e.py runs the same code small.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import resource
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import cpu_busy_ticks, percentile, raise_nofile, write_readme_section  # noqa: E402

from studio.auth import tokens as auth_tokens  # noqa: E402
from studio.db.embedded import EmbeddedCluster  # noqa: E402
from studio.events import listener as events_listener  # noqa: E402
from tests.e2e.support import Lab, StudioProcess, alive, child_env, descendants, free_port, home_secrets  # noqa: E402

RESULTS = ROOT / "bench" / "results"
START, END = "<!-- events-bench:start -->", "<!-- events-bench:end -->"
TICK = os.sysconf("SC_CLK_TCK")
TARGET_BYTES_PER_STREAM = 20 * 1024
TARGET_P99_MS = 100.0

# generation.repository.report_progress: the statement a worker sends for a progress step.
REPORT_PROGRESS = ("UPDATE public.generations SET progress = %s WHERE id = %s AND status = 'running'"
                   " AND progress <> %s")
LOG = Callable[[str], None]


@dataclass
class Options:
    levels: tuple[int, ...] = (1000, 2500, 5000)
    users: int = 500
    rate: float = 50.0            # progress events per second, over all users
    rounds: int = 2               # latency rounds per level
    round_seconds: float = 15.0
    settle_seconds: float = 15.0  # idle wait before measuring memory (also the idle-CPU window)
    drain_seconds: float = 12.0   # after a round, for the last events (longer than the 5 s poll)
    open_concurrency: int = 100   # streams being opened at once
    warmup_streams: int = 20
    server: str = "uvicorn"       # STUDIO_API_SERVER


# --------------------------------------------------------------------------- the client


class Stream(asyncio.Protocol):
    """One `GET /v1/events` with a session cookie: decodes the chunked body and the
    Server-Sent Events in it, and records each generation event with its arrival time."""

    __slots__ = ("user", "request", "opened", "status", "transport", "_buf", "_sse", "_headers_done",
                 "_chunk_left", "events", "comments", "closed_by_server", "other")

    def __init__(self, user: int, request: bytes, opened: asyncio.Future[int]) -> None:
        self.user = user
        self.request = request
        self.opened = opened
        self.status = 0
        self.transport: asyncio.Transport | None = None
        self._buf = b""          # raw bytes not decoded yet
        self._sse = b""          # decoded body not parsed yet
        self._headers_done = False
        self._chunk_left = -1    # bytes left in the current chunk (+2 for its CRLF); -1: at a size line
        self.events: list[tuple[int, str, float]] = []  # (event id, generation id, arrival)
        self.comments = 0        # keep-alives and such
        self.closed_by_server = False
        self.other: list[bytes] = []  # events of a kind this bench does not make

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self._buf += data
        if not self._headers_done:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._buf = self._buf[:end].decode("latin-1"), self._buf[end + 4:]
            self._headers_done = True
            self.status = int(head.split(" ", 2)[1])
            if self.status != 200 or "transfer-encoding: chunked" not in head.lower():
                if not self.opened.done():
                    self.opened.set_result(self.status)
                assert self.transport is not None
                self.transport.close()
                return
        self._dechunk()
        self._parse(now)

    def _dechunk(self) -> None:
        buf, out = self._buf, []
        while True:
            if self._chunk_left < 0:
                line_end = buf.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(buf[:line_end].split(b";")[0], 16)
                buf = buf[line_end + 2:]
                if size == 0:
                    self.closed_by_server = True
                    break
                self._chunk_left = size + 2
            if not buf:
                break
            take = buf[:self._chunk_left]
            buf = buf[len(take):]
            self._chunk_left -= len(take)
            out.append(take if self._chunk_left >= 2 else take[:len(take) - (2 - self._chunk_left)])
            if self._chunk_left == 0:
                self._chunk_left = -1
        self._buf = buf
        self._sse += b"".join(out)

    def _parse(self, now: float) -> None:
        while True:
            end = self._sse.find(b"\n\n")
            if end < 0:
                return
            block, self._sse = self._sse[:end], self._sse[end + 2:]
            if block.startswith(b"retry:"):
                if not self.opened.done():
                    self.opened.set_result(self.status)  # the stream is open and subscribed
                continue
            if block.startswith(b":"):
                self.comments += 1
                continue
            fields: dict[bytes, bytes] = {}
            for line in block.split(b"\n"):
                name, _, value = line.partition(b": ")
                fields[name] = value
            if fields.get(b"event") == b"generation":
                data = json.loads(fields[b"data"])
                self.events.append((int(fields[b"id"]), data["generation_id"], now))
            else:
                self.other.append(block)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_by_server = self.closed_by_server or exc is None
        if not self.opened.done():
            self.opened.set_result(self.status or -1)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# --------------------------------------------------------------------------- the process figures


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += process_cpu(pid)
    return total


def memory(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (private clean + dirty) in bytes, from /proc/<pid>/smaps_rollup."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            values[name] = int(parts[0]) * 1024
    return {"rss": values["Rss"], "pss": values["Pss"],
            "uss": values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)}


def open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise RuntimeError("no open-files limit in /proc/<pid>/limits")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --------------------------------------------------------------------------- the deployment


@dataclass
class Deployment:
    proc: StudioProcess
    home: Path
    port: int
    api_pid: int
    postmaster_pid: int

    def superuser(self) -> str:
        return EmbeddedCluster(self.home).conninfo("postgres", home_secrets(self.home)["STUDIO_SUPERUSER_PASSWORD"],
                                                   "studio")

    def postgres_pids(self) -> list[int]:
        return [self.postmaster_pid, *descendants(self.postmaster_pid)]

    def all_pids(self) -> list[int]:
        return [self.proc.pid, *descendants(self.proc.pid), *self.postgres_pids()]


def start_studio(lab: Lab, log: LOG, server: str = "uvicorn", **extra_env: str) -> Deployment:
    home, port = lab.home(), free_port()
    env = child_env(home, port, STUDIO_API_WORKERS="1", STUDIO_RATE_LIMITS_ENABLED="false",
                    STUDIO_BACKUP_ENABLED="false", STUDIO_API_SERVER=server, **extra_env)
    log(f"starting `studio up` on port {port} (1 API process)")
    proc = lab.start(["up"], env)
    proc.wait_ready(port)
    proc.wait_output("Stop with Ctrl+C.", timeout=180)

    def cmdline(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""

    apis = sorted(pid for pid in descendants(proc.pid) if cmdline(pid).endswith(b"\0-m\0studio\0api\0"))
    if server == "granian":
        # granian forks the process that serves (the same command line) from `studio api`.
        apis = [pid for pid in apis if any(pid in descendants(parent) for parent in apis if parent != pid)]
    if len(apis) != 1:
        raise RuntimeError(f"expected one serving `studio api` process under `studio up`, found {apis}")
    # With STUDIO_API_WORKERS=1 uvicorn serves in that process itself (no supervisor).
    spawned = [pid for pid in descendants(apis[0]) if b"multiprocessing" in cmdline(pid)]
    if spawned:
        raise RuntimeError(f"`studio api` runs several processes: {spawned}")
    postmaster = int((EmbeddedCluster(home).data_dir / "postmaster.pid").read_text().split()[0])
    return Deployment(proc=proc, home=home, port=port, api_pid=apis[0], postmaster_pid=postmaster)


@dataclass
class Seeded:
    tokens: list[str]                 # a session token per user
    user_ids: list[str]
    generations: list[str]            # one running generation per user
    owner: dict[str, int]             # generation id -> user index


def seed(d: Deployment, users: int) -> Seeded:
    """Users, a session each (the token known only here, its SHA-256 stored as
    auth/tokens.py stores it) and a running generation each, written by the superuser."""
    tag = uuid.uuid4().hex[:8]
    tokens = [auth_tokens.new_session_token() for _ in range(users)]
    with psycopg.connect(d.superuser(), autocommit=False) as conn:
        model = conn.execute("SELECT id, type, provider FROM public.model_registry"
                             " WHERE type IN ('image', 'audio', 'video') ORDER BY slug LIMIT 1").fetchone()
        if model is None:
            raise RuntimeError("no generation model to attach the generations to")
        model_id, type_, provider = model
        rows = conn.execute(
            "INSERT INTO public.users (email, display_name) SELECT 'events-' || %s || '-' || i || '@example.org',"
            " 'Events ' || i FROM generate_series(0, %s - 1) AS i ORDER BY i RETURNING id, email",
            (tag, users)).fetchall()
        by_index = {int(email.split("-")[2].split("@")[0]): str(uid) for uid, email in rows}
        user_ids = [by_index[i] for i in range(users)]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO public.sessions (user_id, token_hash, expires_at, user_agent)"
                            " VALUES (%s, %s, pg_catalog.now() + interval '1 day', 'events_bench')",
                            [(uid, auth_tokens.token_hash(t)) for uid, t in zip(user_ids, tokens, strict=True)])
        generations = [str(uuid.uuid4()) for _ in range(users)]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO public.generations (id, user_id, model_id, type, provider, prompt, status,"
                            " started_at) VALUES (%s, %s, %s, %s, %s, 'events bench', 'running', pg_catalog.now())",
                            [(g, uid, model_id, type_, provider) for g, uid in zip(generations, user_ids, strict=True)])
        conn.commit()
    return Seeded(tokens=tokens, user_ids=user_ids, generations=generations,
                  owner={g: i for i, g in enumerate(generations)})


def listen_connections(d: Deployment) -> dict[str, int]:
    """The API's connections in pg_stat_activity: the event listener's (by its
    application_name, and any connection whose last statement was a LISTEN), and all."""
    with psycopg.connect(d.superuser(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE application_name = %s),"
            "       count(*) FILTER (WHERE query ILIKE 'LISTEN %%studio_events%%'),"
            "       count(*)"
            "  FROM pg_catalog.pg_stat_activity WHERE usename = 'studio_api'",
            (events_listener.APPLICATION_NAME,)).fetchone()
    assert row is not None
    return {"listener": int(row[0]), "listen_statement": int(row[1]), "api_connections": int(row[2])}


def streams_in_progress(d: Deployment) -> float | None:
    """`studio_http_requests_in_progress` of the API (open event streams included)."""
    token = home_secrets(d.home).get("STUDIO_METRICS_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        text = httpx.get(f"http://127.0.0.1:{d.port}/metrics", headers=headers, timeout=10).text
    except httpx.HTTPError:
        return None
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("studio_http_requests_in_progress"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


# --------------------------------------------------------------------------- the bench


@dataclass
class Sent:
    event_id: int
    user: int
    before_commit: float
    commit_s: float


@dataclass
class Bench:
    d: Deployment
    seeded: Seeded
    options: Options
    log: LOG
    streams: list[Stream] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)
    progress: dict[int, int] = field(default_factory=dict)  # each user's generation's progress now

    def request(self, user: int) -> bytes:
        return (f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{self.d.port}\r\nAccept: text/event-stream\r\n"
                f"Cookie: {auth_tokens.SESSION_COOKIE}={self.seeded.tokens[user]}\r\n\r\n").encode()

    async def open_streams(self, count: int, first_index: int) -> list[Stream]:
        """`count` more streams; stream k belongs to user k mod users (pages spread evenly)."""
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(self.options.open_concurrency)
        opened: list[Stream] = []

        async def one(index: int) -> None:
            user = index % len(self.seeded.tokens)
            async with gate:
                future: asyncio.Future[int] = loop.create_future()
                stream = Stream(user, self.request(user), future)
                try:
                    await loop.create_connection(lambda: stream, "127.0.0.1", self.d.port)
                    status = await asyncio.wait_for(future, 60)
                except (OSError, TimeoutError):
                    status = -1
                if status == 200:
                    opened.append(stream)
                else:
                    self.refused[status] += 1
                    stream.close()

        await asyncio.gather(*(one(first_index + i) for i in range(count)))
        return opened

    async def emit(self, seconds: float, rate: float, rng: random.Random) -> list[Sent]:
        """Progress steps at `rate` per second for `seconds`, users in a shuffled cycle, by
        the worker's own statement as studio_worker, in an open loop (a late step is sent
        at once, not skipped)."""
        order = list(range(len(self.seeded.user_ids)))
        rng.shuffle(order)
        sent: list[Sent] = []
        progress = self.progress
        async with await psycopg.AsyncConnection.connect(self.d.superuser()) as conn:
            began = time.monotonic()
            count = int(seconds * rate)
            for i in range(count):
                delay = began + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                user = order[i % len(order)]
                step = progress.get(user, 0) % 99 + 1  # 1..99, never the current value
                progress[user] = step
                await conn.execute("SET LOCAL ROLE studio_worker")
                cur = await conn.execute(REPORT_PROGRESS, (step, self.seeded.generations[user], step))
                if cur.rowcount != 1:
                    raise RuntimeError(f"the progress update touched {cur.rowcount} rows")
                await conn.execute("RESET ROLE")
                row = await (await conn.execute(
                    "SELECT pg_catalog.currval(pg_catalog.pg_get_serial_sequence('public.generation_events', 'id'))"
                )).fetchone()
                assert row is not None
                before = time.monotonic()
                await conn.commit()  # the NOTIFY goes out here
                sent.append(Sent(int(row[0]), user, before, time.monotonic() - before))
        return sent

    async def wait_delivered(self, sent: list[Sent], streams: list[Stream], since: list[int]) -> float:
        """Until every stream has as many events as its user was sent (or the drain time);
        the seconds waited."""
        per_user = Counter(s.user for s in sent)
        began = time.monotonic()
        while time.monotonic() - began < self.options.drain_seconds:
            if all(len(st.events) - since[k] >= per_user[st.user] for k, st in enumerate(streams)):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a duplicate would come right after
        return time.monotonic() - began


def check_round(sent: list[Sent], streams: list[Stream], since: list[int],
                owner: dict[str, int]) -> dict[str, Any]:
    """Every stream got each of its user's events of the round once, none of another's."""
    by_user: dict[int, set[int]] = {}
    for s in sent:
        by_user.setdefault(s.user, set()).add(s.event_id)
    at = {s.event_id: s.before_commit for s in sent}
    latencies: list[float] = []
    missing = duplicated = wrong_user = unexpected = 0
    for k, st in enumerate(streams):
        got = st.events[since[k]:]
        ids = Counter(event_id for event_id, _, _ in got)
        duplicated += sum(n - 1 for n in ids.values() if n > 1)
        wrong_user += sum(1 for _, gen, _ in got if owner.get(gen) != st.user)
        mine = by_user.get(st.user, set())
        missing += len(mine - ids.keys())
        unexpected += sum(1 for event_id in ids if event_id not in mine and event_id not in at)
        for event_id, _, arrived in got:
            if event_id in mine:
                latencies.append(arrived - at[event_id])
    expected = sum(len(by_user.get(st.user, ())) for st in streams)
    ms = [x * 1000 for x in latencies]
    return {"events_sent": len(sent), "deliveries_expected": expected, "deliveries_received": len(latencies),
            "missing": missing, "duplicated": duplicated, "wrong_user": wrong_user, "unexpected": unexpected,
            "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else None,
            "commit_p50_ms": percentile([s.commit_s * 1000 for s in sent], 50)}


def _snapshot(d: Deployment) -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"t": time.monotonic(), "api": process_cpu(d.api_pid), "postgres": tree_cpu(d.postgres_pids()),
            "client": usage.ru_utime + usage.ru_stime, "machine": cpu_busy_ticks() / TICK}


def _cpu_share(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU of each over the interval, as a share of one core (1.0 = a core busy)."""
    seconds = after["t"] - before["t"]
    out = {name: round((after[name] - before[name]) / seconds, 3) for name in ("api", "postgres", "client", "machine")}
    out["other"] = round(out["machine"] - out["api"] - out["postgres"] - out["client"], 3)
    out["seconds"] = round(seconds, 1)
    return out


async def run_levels(bench: Bench, log: LOG) -> dict[str, Any]:
    o, d = bench.options, bench.d
    rng = random.Random(16)
    # Warm-up: a few streams opened and closed, so that the listener's connection is
    # open and every code path has run once before the baseline is taken.
    warm = await bench.open_streams(o.warmup_streams, 0)
    await asyncio.sleep(1)
    listen_warm = listen_connections(d)
    for st in warm:
        st.close()
    await asyncio.sleep(3)
    before = _snapshot(d)
    await asyncio.sleep(o.settle_seconds)
    idle_cpu = _cpu_share(before, _snapshot(d))
    baseline = memory(d.api_pid)
    base_fds = open_fds(d.api_pid)
    base_listen = listen_connections(d)
    log(f"baseline: RSS {baseline['rss'] / 2**20:.1f} MiB, PSS {baseline['pss'] / 2**20:.1f} MiB,"
        f" listener connections {base_listen['listener']}, API idle CPU {idle_cpu['api']:.1%}")
    levels: list[dict[str, Any]] = []
    for level in o.levels:
        more = level - len(bench.streams)
        if more > 0:
            t = time.monotonic()
            bench.streams += await bench.open_streams(more, len(bench.streams) + o.warmup_streams)
            log(f"level {level}: {len(bench.streams)} streams open in {time.monotonic() - t:.1f} s"
                + (f" (refused: {dict(bench.refused)})" if bench.refused else ""))
        before = _snapshot(d)
        await asyncio.sleep(o.settle_seconds)
        idle = _cpu_share(before, _snapshot(d))
        mem = memory(d.api_pid)
        listen = listen_connections(d)
        streams = bench.streams
        n = len(streams)
        per = {k: (mem[k] - baseline[k]) / n if n else None for k in mem}
        client_rss = memory(os.getpid())["rss"]
        log(f"level {level}: RSS +{(mem['rss'] - baseline['rss']) / 2**20:.1f} MiB"
            f" ({(per['rss'] or 0) / 1024:.1f} KiB/stream, PSS {(per['pss'] or 0) / 1024:.1f}, USS"
            f" {(per['uss'] or 0) / 1024:.1f}), listener connections {listen['listener']},"
            f" idle CPU: API {idle['api']:.0%}, postgres {idle['postgres']:.0%}")
        rounds = []
        for r in range(o.rounds):
            since = [len(st.events) for st in streams]
            before = _snapshot(d)
            sent = await bench.emit(o.round_seconds, o.rate, rng)
            emitted = _snapshot(d)
            drained = await bench.wait_delivered(sent, streams, since)
            result = check_round(sent, streams, since, bench.seeded.owner)
            result["cpu"] = _cpu_share(before, emitted)
            result["achieved_rate"] = round(len(sent) / (emitted["t"] - before["t"]), 1)
            result["drain_s"] = round(drained, 1)
            rounds.append(result)
            log(f"level {level} round {r + 1}: {result['events_sent']} events, {result['deliveries_received']}"
                f"/{result['deliveries_expected']} delivered, p50 {_ms(result['p50_ms'])} p99 {_ms(result['p99_ms'])}"
                f" max {_ms(result['max_ms'])}; missing {result['missing']}, duplicated {result['duplicated']},"
                f" wrong user {result['wrong_user']}; CPU API {result['cpu']['api']:.0%}, postgres"
                f" {result['cpu']['postgres']:.0%}, client {result['cpu']['client']:.0%},"
                f" other {result['cpu']['other']:.0%}")
        closed_by_server = sum(1 for st in streams if st.closed_by_server)
        levels.append({"level": level, "streams": n, "refused": dict(bench.refused), "listen": listen,
                       "memory": mem, "per_stream_bytes": per, "idle_cpu": idle, "rounds": rounds,
                       "api_open_fds": open_fds(d.api_pid), "client_rss": client_rss,
                       "closed_by_server": closed_by_server,
                       "keepalives": sum(st.comments for st in streams),
                       "other_events": sum(len(st.other) for st in streams)})
    # Disconnect cleanup: every stream closed by the client, the server lets go of them.
    in_progress_open = streams_in_progress(d)
    for st in bench.streams:
        st.close()
    released = None
    for _ in range(40):
        await asyncio.sleep(0.25)
        released = streams_in_progress(d)
        if released is not None and released <= 1:  # the /metrics request itself
            break
    after_close = listen_connections(d)
    return {"baseline": {"memory": baseline, "listen": base_listen, "listen_after_warmup": listen_warm,
                         "idle_cpu": idle_cpu, "api_open_fds": base_fds},
            "levels": levels,
            "after_close": {"listen": after_close, "requests_in_progress_before": in_progress_open,
                            "requests_in_progress_after": released, "api_open_fds": open_fds(d.api_pid),
                            "memory": memory(d.api_pid)}}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


# --------------------------------------------------------------------------- the run


def run(options: Options, log: LOG = lambda _: None) -> dict[str, Any]:
    """Starts a throwaway Studio, runs the levels, stops and removes everything (also on
    failure); `left_running` lists any of its processes still alive afterwards."""
    nofile = raise_nofile()
    began = time.monotonic()
    lab = Lab()
    d: Deployment | None = None
    pids: list[int] = []
    measured: dict[str, Any] = {}
    try:
        d = start_studio(lab, log, server=options.server)
        pids = d.all_pids()
        api_nofile = open_files_limit(d.api_pid)
        needed = max(options.levels) + options.warmup_streams + 200
        if api_nofile < needed or nofile < needed:
            raise RuntimeError(f"open-files limit too low: {nofile} here, {api_nofile} in the API, {needed} needed")
        log(f"seeding {options.users} users (a session and a running generation each)")
        seeded = seed(d, options.users)
        bench = Bench(d, seeded, options, log)
        measured = asyncio.run(run_levels(bench, log))
        measured.update({"open_files_limit": {"bench": nofile, "api": api_nofile}, "api_pid": d.api_pid})
    finally:
        if d is not None:
            pids = sorted(set(pids) | set(d.all_pids()))
        lab.cleanup()
    measured["left_running"] = [pid for pid in pids if alive(pid)]
    measured["seconds"] = round(time.monotonic() - began, 1)
    return measured


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: through every `finally`."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- the report


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    levels = result["levels"]
    rounds = [r for lv in levels for r in lv["rounds"]]
    return {
        "one_listen_connection": all(lv["listen"]["listener"] == 1 for lv in levels)
        and result["baseline"]["listen"]["listener"] == 1,
        "memory": all((lv["per_stream_bytes"]["pss"] or 0) < TARGET_BYTES_PER_STREAM for lv in levels),
        "latency": all(r["p99_ms"] is not None and r["p99_ms"] < TARGET_P99_MS for r in rounds),
        "exactly_once": all(r["missing"] == 0 and r["duplicated"] == 0 and r["wrong_user"] == 0
                            and r["unexpected"] == 0 for r in rounds),
        "all_opened": all(not lv["refused"] for lv in levels),
    }


def _kib(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def table(result: dict[str, Any]) -> list[str]:
    lines = ["| streams (users) | refused | LISTEN connections | RSS / PSS / USS per stream (KiB) |"
             " idle CPU: API, postgres | round | events sent / deliveries received (expected) |"
             " delivery p50 / p99 / max (ms) | missing, duplicated, wrong user | CPU: API, postgres, client, others |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    users = result["options"]["users"]
    for lv in result["levels"]:
        per = lv["per_stream_bytes"]
        for k, r in enumerate(lv["rounds"]):
            head = (f"| {lv['streams']:,} ({min(users, lv['streams'])}) | {sum(lv['refused'].values())} |"
                    f" {lv['listen']['listener']} | {_kib(per['rss'])} / {_kib(per['pss'])} / {_kib(per['uss'])} |"
                    f" {_pct(lv['idle_cpu']['api'])}, {_pct(lv['idle_cpu']['postgres'])} |"
                    if k == 0 else "| | | | | |")
            cpu = r["cpu"]
            lines.append(f"{head} {k + 1} | {r['events_sent']:,} / {r['deliveries_received']:,}"
                         f" ({r['deliveries_expected']:,}) | {_num(r['p50_ms'])} / {_num(r['p99_ms'])} /"
                         f" {_num(r['max_ms'])} | {r['missing']}, {r['duplicated']}, {r['wrong_user']} |"
                         f" {_pct(cpu['api'])}, {_pct(cpu['postgres'])}, {_pct(cpu['client'])},"
                         f" {_pct(max(cpu['other'], 0))} |")
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# What the first runs showed and what changed in src/studio/events because of it (the
# figures before the change come from this script on 2026-12-06, same machine, same
# defaults but one round of 10 s; the load of others on the machine was similar).
FINDINGS = [
    "## Where the time and the memory went, and what changed", "",
    ("Before (`events/` as of commit 7f73173): a process refused its 1,001st stream (`MAX_SUBSCRIBERS = 1000`,"
     " 503); with the limit raised, every idle stream re-read the database every 5 s (a transaction on the"
     " shared pool of 10 connections: the credential, its events, notifications and training runs), and every"
     " stream woken by a NOTIFY read on its own. Measured: idle CPU of the API process 21% at 1,000 streams,"
     " 42% at 2,500, 78% at 5,000 (PostgreSQL 14%, 25%, 35%); at 2,500 streams delivery p50 2,580 ms, p99"
     " 3,701 ms (the pool saturated, reads queued); at 5,000, 83 of the streams were refused 503 while"
     " opening (pool timeouts); memory 34-37 KiB per idle stream."),
    "",
    ("Memory, by tracemalloc in the API process (tracing started after the warm-up, 488 streams): about"
     " 39 KiB of Python objects per stream, spread over the HTTP stack that stays alive for a stream's"
     " whole life: uvicorn's protocol and request cycle (~4.6 KiB), FastAPI's routing and dependency frames"
     " (~4.5 KiB) and AsyncExitStack/contextlib (~2.6 KiB), the middlewares (guard, metrics, exception"
     " handlers, body limit: ~5 KiB), asyncio locks (~3.9 KiB: uvicorn's two events plus one per"
     " subscription), tasks and their context copies (~3.6 KiB for three tasks per stream), the events"
     " code's own objects (~3.1 KiB)."),
    "",
    "Changed (src/studio/events/endpoints.py and listener.py):",
    "",
    ("- **One read per credential, not per stream** (`_SharedRead`): the streams of one credential (a"
     " person's tabs share a session) woken together share one transaction, run as that credential (RLS"
     " unchanged); a stream woken after the shared read began waits for the next one, and each stream keeps"
     " only what is new to it (its own cursors). A stream with a long backlog (a full batch) pages on its own."
     " At 5,000 streams: delivery p99 2,018 ms -> 39 ms, API CPU during the round 52% -> 17%."),
    ("- **Idle reads within a budget**: while the process's LISTEN connection is up, all idle streams together"
     " read at most 100 times a second (`IDLE_READS_PER_SECOND`): the 5 s poll is kept up to 500 streams,"
     " then stretched (50 s at 5,000). While the listener is down, every stream polls every 5 s as before."
     " Events, training runs and notifications wake streams by NOTIFY at once either way; what waits for the"
     " poll is only the end of a stream whose credential was revoked"
     " (nothing is sent to it meanwhile: every send follows a read under that credential)."
     " Idle CPU at 5,000 streams: API 78% -> 15%, PostgreSQL 35% -> 7%."),
    ("- **One task per stream besides the request's**: the pump runs in the request's task and a small"
     " watcher task cancels it when the client disconnects (before: a pump task and a watcher task joined by"
     " `asyncio.wait`); a subscription's wake-up is a flag plus, while waiting, one future and one timer"
     " (before: an `asyncio.Event` and an `asyncio.timeout` per wait). Memory per idle stream 36-37 -> 31-32"
     " KiB."),
    "- `MAX_SUBSCRIBERS` 1,000 -> 10,000 per process.",
    "",
    ("Not met, and why: 20 KiB per idle stream. What remains (~31 KiB) is mostly the per-request objects of"
     " uvicorn, Starlette/FastAPI and Studio's middlewares, alive as long as the response streams; the"
     " events code's own share is now ~2-3 KiB. Going lower means serving `/v1/events` as a pure ASGI route"
     " ahead of FastAPI's routing and the middlewares' per-request frames (app.py, http/), not done here."),
    "",
    ("Found on the way: user notifications sent no NOTIFY of their own, so one written alone (a share about"
     " to expire, an admin's backup notice, a sign-up attempt on one's email) arrived at the next poll, up to"
     " `streams / 100` s on a busy process. Migration 0033 adds a trigger on `user_notifications` sending"
     " `NOTIFY studio_events` with the user id: they arrive at once (tests/api/test_events.py)."),
]


def write_results(result: dict[str, Any], out_dir: Path, readme: bool) -> None:
    v = verdicts(result)
    o = result["options"]
    when = result["when"]
    rounds = [(lv["streams"], r) for lv in result["levels"] for r in lv["rounds"]]
    top = result["levels"][-1]

    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    summary = [
        f"Last run: {when} UTC, {result['command']} ({result['seconds']:.0f} s), {os.cpu_count()} cores shared with"
        f" other work (load average {result['load_average'][0]:.2f} at start,"
        f" {result.get('load_average_end', (0.0,))[0]:.2f} at the end); one API process,"
        f" {o['users']} users, progress at {o['rate']:g} events/s, {o['rounds']} rounds of"
        f" {o['round_seconds']:g} s per level.",
        "",
        *table(result),
        "",
        f"- One LISTEN connection per process: {mark(v['one_listen_connection'])} (listener connections:"
        f" {result['baseline']['listen']['listener']} with no stream open,"
        f" {', '.join(str(lv['listen']['listener']) for lv in result['levels'])} at the levels).",
        f"- Memory under 20 KiB per idle stream (PSS): {mark(v['memory'])}; at {top['streams']:,} streams"
        f" RSS {_kib(top['per_stream_bytes']['rss'])}, PSS {_kib(top['per_stream_bytes']['pss'])},"
        f" USS {_kib(top['per_stream_bytes']['uss'])} KiB per stream.",
        f"- Delivery p99 under 100 ms: {mark(v['latency'])} (p99 per round: "
        + ", ".join(f"{n:,}: {_num(r['p99_ms'])}" for n, r in rounds) + " ms).",
        f"- Each stream got exactly its own user's events once: {mark(v['exactly_once'])} (missing"
        f" {sum(r['missing'] for _, r in rounds)}, duplicated {sum(r['duplicated'] for _, r in rounds)}, wrong user"
        f" {sum(r['wrong_user'] for _, r in rounds)}).",
        f"- Every stream opened: {mark(v['all_opened'])}"
        + (f" (refused: {top['refused']})" if top["refused"] else "") + ".",
    ]
    close = result["after_close"]
    how = [
        "## How", "",
        ("A fresh `studio up` in a temporary home (embedded PostgreSQL, `STUDIO_API_WORKERS=1`,"
         f" `STUDIO_API_SERVER={o.get('server', 'uvicorn')}`,"
         " `STUDIO_RATE_LIMITS_ENABLED=false`, `STUDIO_BACKUP_ENABLED=false`). The open-files limit is raised"
         f" to the hard limit before it starts (bench {result['open_files_limit']['bench']}, the API process"
         f" {result['open_files_limit']['api']} per /proc/<pid>/limits)."),
        "",
        (f"Users: {o['users']} written by the database superuser, each with a session whose token only the"
         " bench knows (its SHA-256 stored as Studio stores it) and one running generation; no sign-up (an"
         " argon2 hash each would measure sign-up, not events). Stream k belongs to user k mod users, so"
         f" {top['streams']:,} streams are {top['streams'] // max(1, o['users'])} open pages per user."),
        "",
        ("Client: one asyncio loop, a bare `asyncio.Protocol` per connection sending a hand-written"
         " `GET /v1/events` with the session cookie and decoding the chunked body and the events itself;"
         f" {o['open_concurrency']} streams are opened at once. A stream counts as open at its first"
         " `retry:` line (sent after it subscribed). The levels are a ramp: a level's streams stay open for"
         " the next."),
        "",
        (f"Memory: the API process's RSS, PSS and USS (`/proc/<pid>/smaps_rollup`) {o['settle_seconds']:g} s"
         " after the level's streams opened, less the same figures with no stream open (after"
         f" {o['warmup_streams']} streams were opened and closed, so the listener and every code path exist"
         " already), divided by the number of streams. *Idle CPU* is over that same wait."),
        "",
        ("Events: the worker's own progress statement (`generation.repository.report_progress`) under"
         " `SET LOCAL ROLE studio_worker`, one transaction per step, users in a shuffled cycle, at a steady"
         " rate (open loop); the generation's trigger writes the event and sends `NOTIFY studio_events` with"
         " the user id at COMMIT. The event's id is read in the same transaction (`currval`). Latency runs"
         " from just before COMMIT (the NOTIFY) to the client reading the event off its socket, for each"
         f" stream that should get it (commit itself: p50 {_num(rounds[0][1]['commit_p50_ms'])} ms in the first"
         f" round). After each round the bench waits up to {o['drain_seconds']:g} s for stragglers (longer"
         " than the streams' 5 s poll), then checks every stream: each of its user's events exactly once,"
         " nobody else's. CPU is a share of one core over the round: the API process, every PostgreSQL"
         " process, this client (emitter included), and the rest of the machine (`/proc/stat`): other"
         " people's work."),
        "",
        (f"Closing: after the last level every stream was closed by the client;"
         f" `studio_http_requests_in_progress` went from {close['requests_in_progress_before']} to"
         f" {close['requests_in_progress_after']} (the scrape itself counts 1), the API's open file descriptors"
         f" to {close['api_open_fds']} (baseline {result['baseline']['api_open_fds']}), listener connections"
         f" {close['listen']['listener']}."),
        "",
        f"Machine: Python {platform.python_version()}, kernel {platform.release()}, {os.cpu_count()} cores.",
    ]
    notes = result.get("notes", [])
    md = ["# Live events at scale", "", *summary, "", *([*notes, ""] if notes else []), *FINDINGS, "", *how, ""]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "events.md").write_text("\n".join(md))
    (out_dir / "events.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    if readme:
        write_readme_section(START, END, [
            "## Live events at scale (`events_bench.py`)", "",
            ("Thousands of idle `GET /v1/events` streams (Server-Sent Events) on one API process of a throwaway"
             " `studio up`: the one shared LISTEN connection, memory per idle stream, and the delivery latency of"
             " progress events made by the worker's own statement, each stream checked to get exactly its own"
             " user's events once. About 4 minutes at the defaults. The e2e tier runs the same code small"
             " (`tests/e2e/test_events_bench_e2e.py`)."), "",
            "```sh",
            ".venv/bin/python bench/events_bench.py [--levels 1000 2500 5000] [--users 500] [--rate 50]"
            " [--rounds 2] [--round-seconds 15]",
            "```", "",
            *summary, "",
            *([*result.get("notes", []), ""] if result.get("notes") else []),
            "Details: [results/events.md](results/events.md), raw: [results/events.json](results/events.json).",
        ])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    defaults = Options()
    parser.add_argument("--levels", type=int, nargs="+", default=list(defaults.levels))
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="progress events per second")
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--round-seconds", type=float, default=defaults.round_seconds)
    parser.add_argument("--settle-seconds", type=float, default=defaults.settle_seconds)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where events.md and events.json go")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default=defaults.server,
                        help="STUDIO_API_SERVER of the API process")
    args = parser.parse_args(argv)
    options = Options(levels=tuple(sorted(args.levels)), users=args.users, rate=args.rate, rounds=args.rounds,
                      round_seconds=args.round_seconds, settle_seconds=args.settle_seconds, server=args.server)
    command = "`.venv/bin/python bench/events_bench.py" + (f" {' '.join(argv)}" if argv else "") + "`"
    when = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    with sigterm_as_interrupt():
        result = run(options, log=lambda line: print(line, file=sys.stderr, flush=True))
    result.update({"when": f"{when:%Y-%m-%d %H:%M}", "command": command, "options": asdict(options),
                   "load_average": load, "load_average_end": os.getloadavg()})
    write_results(result, args.results, readme=args.results.resolve() == RESULTS.resolve())
    print((args.results / "events.md").read_text())
    return 0 if all(verdicts(result).values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
