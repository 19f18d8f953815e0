#!/usr/bin/env python3
"""A small open-loop HTTP/1.1 load generator: many keep-alive connections, requests sent
at a fixed rate whatever the server's answers, latency measured from each request's
scheduled send time (no coordinated omission).

    .venv/bin/python bench/openloop.py --url http://127.0.0.1:8000/v1/conversations \\
        --connections 1000 --rate 700 --duration 30 [--warmup 3] [--timeout 5] [--json-out r.json]

Headers come from --header 'Name: value' or, to keep a credential off the command line,
from the environment variable OPENLOOP_HEADERS (one 'Name: value' per line).

How it works:

- all --connections TCP connections are opened first (100 at a time) and kept open;
- request i is due at t0 + i / rate. When it is due, it goes out on the connection that
  has been idle longest (so every connection carries traffic, like 1,000 clients each
  sending now and then); when every connection is busy, it waits for the first one to
  free up. Either way its latency counts from when it was due, so a server that
  stalls is charged for the whole wait (wrk and other closed-loop tools send the next
  request only after the previous answer, and so under-report such stalls);
- errors: non-2xx answers (by status), timeouts (no complete answer --timeout seconds
  after the request was due; the connection is then closed and opened again), and
  connection errors (refused, reset, closed mid-answer). A keep-alive connection that
  the server closed while it was idle is reopened; a request that found such a
  connection closed before any byte of an answer arrived is sent once more on a fresh
  connection, as HTTP clients do for idempotent requests, and counted as
  `retried_stale_keepalive`, not as an error;
- the first --warmup seconds are sent but left out of the latency figures (their
  errors are reported separately).

One process, one event loop (uvloop when installed). The JSON report includes the
generator's own CPU time and how late requests went out (`send_lag_ms`), to show
whether the generator itself kept up.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import resource
import sys
import time
from array import array
from typing import Any
from urllib.parse import urlsplit

from benchlib import percentile, raise_nofile

# Not loop.time(): uvloop's clock ticks in whole milliseconds.
clock = time.perf_counter


class Stats:
    def __init__(self, measure_from: float) -> None:
        self.measure_from = measure_from   # clock(): requests due before it are warm-up
        self.latency_ms = array("d")       # due -> complete answer, measured requests that got a 2xx
        self.service_ms = array("d")       # sent -> complete answer (the server's own time, roughly)
        self.send_lag_ms = array("d")      # due -> sent (waiting for a free connection, or the generator late)
        self.status: collections.Counter[int] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.warmup_errors: collections.Counter[str] = collections.Counter()
        self.completed = 0
        self.retried_stale_keepalive = 0
        self.reconnects = 0

    def error(self, due: float, kind: str) -> None:
        (self.errors if due >= self.measure_from else self.warmup_errors)[kind] += 1


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.due: float | None = None      # the request in flight: when it was due
        self.sent_at = 0.0
        self.got_bytes = False
        self.reused = False                # carried a request before (a keep-alive reuse)
        self.close_after = False
        self.retry = False                 # the request in flight is a resend
        self.dead = False

    # -------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.buf += data
        self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.dead = True
        self.gen.lost(self, exc)

    # -------------------------------------------------------------- requests

    def send(self, due: float) -> None:
        assert self.transport is not None and self.due is None
        self.due = due
        self.got_bytes = False
        self.sent_at = clock()
        self.transport.write(self.gen.request_bytes)

    def _parse(self) -> None:
        while self.due is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            try:
                status = int(head[9:12])
            except ValueError:
                self._abort("connection:bad_response")
                return
            body_start = end + 4
            length = None
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value:
                    chunked = True
                elif name == b"connection" and b"close" in value:
                    self.close_after = True
            if chunked:
                terminator = self.buf.find(b"\r\n0\r\n\r\n", body_start - 2)
                if terminator < 0:
                    return
                total = terminator + 7
            else:
                total = body_start + (length or 0)
                if len(self.buf) < total:
                    return
            del self.buf[:total]
            self._complete(status)

    def _complete(self, status: int) -> None:
        due, sent = self.due, self.sent_at
        assert due is not None
        self.due = None
        self.reused = True
        self.gen.completed(self, due, sent, status)
        if self.close_after and self.transport is not None:
            self.transport.close()

    def _abort(self, kind: str) -> None:
        due = self.due
        self.due = None
        if due is not None:
            self.gen.stats.error(due, kind)
        if self.transport is not None:
            self.transport.abort()


class Generator:
    def __init__(self, args: argparse.Namespace, headers: list[tuple[str, str]]) -> None:
        self.args = args
        url = urlsplit(args.url)
        if url.scheme != "http":
            raise SystemExit("only http:// URLs")
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {url.netloc}", "User-Agent: openloop",
                 "Accept: */*"] + [f"{name}: {value}" for name, value in headers]
        self.request_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.loop = asyncio.get_running_loop()
        self.idle: collections.deque[Connection] = collections.deque()
        self.busy: set[Connection] = set()
        self.pending: collections.deque[tuple[float, bool]] = collections.deque()  # (due, is_retry)
        self.all: set[Connection] = set()
        self.stats = Stats(measure_from=math.inf)
        self.stopping = False
        self.connecting = 0
        self.connect_errors: collections.Counter[str] = collections.Counter()

    # -------------------------------------------------------------- connections

    async def connect(self) -> Connection | None:
        self.connecting += 1
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(lambda: Connection(self), self.host, self.port),
                timeout=self.args.timeout)
        except (TimeoutError, OSError) as exc:
            self.connect_errors[type(exc).__name__] += 1
            return None
        finally:
            self.connecting -= 1
        self.all.add(conn)
        return conn

    async def replace(self) -> None:
        """Open a connection in place of a lost one, then give it work or park it."""
        if self.stopping:
            return
        conn = await self.connect()
        if conn is None:
            # The server refuses new connections: requests waiting for one are errors.
            while self.pending:
                due, _ = self.pending.popleft()
                self.stats.error(due, "connection:connect_failed")
            return
        self.stats.reconnects += 1
        self.release(conn)

    def lost(self, conn: Connection, exc: Exception | None) -> None:
        self.all.discard(conn)
        self.busy.discard(conn)
        with_request = conn.due
        conn.due = None
        try:
            self.idle.remove(conn)
        except ValueError:
            pass
        if with_request is not None:
            if conn.reused and not conn.got_bytes and not self.stopping and not conn.retry:
                # A keep-alive connection the server closed as we reused it: send again.
                self.stats.retried_stale_keepalive += 1
                self.pending.appendleft((with_request, True))
            else:
                kind = "connection:reset" if exc is not None else "connection:closed"
                self.stats.error(with_request, kind)
        if not self.stopping:
            self.loop.create_task(self.replace())

    def release(self, conn: Connection) -> None:
        """The connection is free: the oldest waiting request, else the idle queue."""
        self.busy.discard(conn)
        if conn.dead:
            return
        now = clock()
        while self.pending:
            due, retry = self.pending.popleft()
            if now - due > self.args.timeout:
                self.stats.error(due, "timeout")
                continue
            self._send(conn, due, now, retry)
            return
        self.idle.append(conn)

    def _send(self, conn: Connection, due: float, now: float, retry: bool = False) -> None:
        if due >= self.stats.measure_from:
            self.stats.send_lag_ms.append((now - due) * 1000)
        conn.retry = retry
        self.busy.add(conn)
        conn.send(due)

    def dispatch(self, due: float) -> None:
        now = clock()
        while self.idle:
            conn = self.idle.popleft()
            if not conn.dead:
                self._send(conn, due, now)
                return
        self.pending.append((due, False))

    def completed(self, conn: Connection, due: float, sent: float, status: int) -> None:
        now = clock()
        self.stats.completed += 1
        measured = due >= self.stats.measure_from
        if measured:
            self.stats.status[status] += 1
        if 200 <= status < 300:
            if measured:
                self.stats.latency_ms.append((now - due) * 1000)
                self.stats.service_ms.append((now - sent) * 1000)
        else:
            self.stats.error(due, f"http_{status}")
        if not conn.close_after:
            self.release(conn)

    # -------------------------------------------------------------- the run

    async def watchdog(self) -> None:
        """Timeouts: requests in flight or waiting longer than --timeout since due."""
        while True:
            await asyncio.sleep(0.05)
            now = clock()
            for conn in list(self.busy):
                if conn.due is not None and now - conn.due > self.args.timeout:
                    conn._abort("timeout")
            while self.pending and now - self.pending[0][0] > self.args.timeout:
                due, _ = self.pending.popleft()
                self.stats.error(due, "timeout")

    async def run(self) -> dict[str, Any]:
        args = self.args
        t_connect = time.monotonic()
        sem = asyncio.Semaphore(100)

        async def open_one() -> None:
            async with sem:
                conn = await self.connect()
            if conn is not None:
                self.idle.append(conn)

        await asyncio.gather(*(open_one() for _ in range(args.connections)))
        connect_seconds = time.monotonic() - t_connect
        opened = len(self.idle)
        if opened == 0:
            raise SystemExit(f"could not open any connection to {self.host}:{self.port}: {dict(self.connect_errors)}")
        initial_connect_errors = dict(self.connect_errors)

        watchdog = self.loop.create_task(self.watchdog())
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        total = int(args.rate * (args.warmup + args.duration))
        t0 = clock() + 0.05
        self.stats.measure_from = t0 + args.warmup
        interval = 1.0 / args.rate
        peak_busy = 0
        peak_pending = 0
        i = 0
        while i < total:
            now = clock()
            while i < total and t0 + i * interval <= now:
                self.dispatch(t0 + i * interval)
                i += 1
            peak_busy = max(peak_busy, len(self.busy))
            peak_pending = max(peak_pending, len(self.pending))
            if i < total:
                await asyncio.sleep(max(0.0, t0 + i * interval - clock()))
        t_last_due = t0 + (total - 1) * interval
        # Let what is in flight finish (or time out).
        deadline = clock() + args.timeout + 1
        while (self.busy or self.pending) and clock() < deadline:
            await asyncio.sleep(0.02)
        t_end = clock()
        self.stopping = True
        watchdog.cancel()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        for conn in list(self.all):
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.sleep(0.1)

        st = self.stats
        latency = sorted(st.latency_ms)
        service = sorted(st.service_ms)
        lag = sorted(st.send_lag_ms)
        measured_sent = sum(st.status.values()) + sum(st.errors.values())
        measured_seconds = args.duration
        ok = sum(n for code, n in st.status.items() if 200 <= code < 300)

        def pcts(values: list[float]) -> dict[str, float | None]:
            return {f"p{q}".replace(".", "_"): (round(percentile(values, q), 3) if values else None)
                    for q in (50, 90, 99, 99.9)} | {"max": round(values[-1], 3) if values else None,
                                                     "mean": round(sum(values) / len(values), 3) if values else None}

        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        return {
            "url_path": urlsplit(args.url).path,
            "connections_requested": args.connections, "connections_opened": opened,
            "connect_seconds": round(connect_seconds, 2), "initial_connect_errors": initial_connect_errors,
            "rate_requested": args.rate, "duration_s": args.duration, "warmup_s": args.warmup,
            "timeout_s": args.timeout,
            "requests_measured": measured_sent, "ok_2xx": ok,
            "throughput_2xx_per_s": round(ok / measured_seconds, 1),
            "status_counts": {str(k): v for k, v in sorted(st.status.items())},
            "errors": dict(st.errors), "errors_total": sum(st.errors.values()),
            "warmup_errors": dict(st.warmup_errors),
            "retried_stale_keepalive": st.retried_stale_keepalive, "reconnects": st.reconnects,
            "connect_errors": dict(self.connect_errors),
            "latency_ms": pcts(latency), "service_ms": pcts(service), "send_lag_ms": pcts(lag),
            "peak_busy_connections": peak_busy, "peak_waiting_requests": peak_pending,
            "drain_seconds": round(t_end - t_last_due, 2),
            "generator_cpu_s": round(cpu, 2),
            "generator_cpu_share": round(cpu / max(t_end - t0, 1e-9), 3),
            "event_loop": type(self.loop).__module__,
        }


def parse_headers(args: argparse.Namespace) -> list[tuple[str, str]]:
    raw = list(args.header or [])
    raw += [line for line in os.environ.get("OPENLOOP_HEADERS", "").splitlines() if line.strip()]
    headers = []
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"not a header: {item!r}")
        headers.append((name.strip(), value.strip()))
    return headers


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--rate", type=float, required=True, help="requests per second, all connections together")
    p.add_argument("--duration", type=float, default=30, help="measured seconds (after the warm-up)")
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--timeout", type=float, default=5)
    p.add_argument("--header", action="append", help="'Name: value' (repeatable)")
    p.add_argument("--json-out")
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.connections < 1:
        raise SystemExit("--rate and --connections must be positive")
    nofile = raise_nofile()
    if nofile < args.connections + 50:
        raise SystemExit(f"RLIMIT_NOFILE is {nofile}: too low for {args.connections} connections")
    headers = parse_headers(args)

    async def go() -> dict[str, Any]:
        return await Generator(args, headers).run()

    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop
            runner = uvloop.run
        except (ImportError, AttributeError):
            pass
    report = runner(go())
    text = json.dumps(report, indent=2)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            handle.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
