#!/usr/bin/env python3
"""Streamed chat overhead: the delay one API process adds to each token of a streamed answer.

    .venv/bin/python bench/stream_bench.py [--levels 10 50 100 150 250 500 1000 1500 2000]
                                           [--tokens 250] [--pace-ms 20] [--window 10] [--rounds 2]

A throwaway `studio up` (fresh home, embedded PostgreSQL, `STUDIO_API_WORKERS=1`, rate
limits and backups off) whose chat model is a fake OpenAI-compatible server in a process
of its own. That server speaks the real chat-completions streaming wire format (chunked
HTTP/1.1, `data: {chat.completion.chunk}` events, the usage chunk, `data: [DONE]`) and
sends the first token at once, then one token every --pace-ms, --tokens in all. Each
token's text is ` <index>:<send time>` (CLOCK_MONOTONIC in nanoseconds, which every
process of the machine shares), so whoever receives it knows when the provider sent it.

Client processes (asyncio on raw sockets: thousands of streams cost them little) keep
C chats streaming at once, one per conversation (`POST /v1/conversations/{id}/messages`
with `generate: true`; a conversation never has two at a time), each slot starting its
next chat as soon as the last one is `done`; the conversations belong to a handful of
users signed up through the API. The same client code, at the same concurrency, reads
the fake provider directly: the reference. Per token, the delay is the time the client
received it minus the time the provider sent it; Studio's added delay is the Studio
path's percentile minus the direct path's. The first token also has its time to first
token (request sent to first token received), which includes what Studio does before it
calls the model (authentication, storing the question, reading the branch).

For each concurrency level (--levels) and round: the client processes start their slots
staggered over one answer's duration, so that all C streams run from then on; figures
are taken over the next --window seconds (tokens sent, chats started in it); then the
streams drain. Each stream must deliver every token in order and end with `done` (the
stored answer, whose text is checked). CPU of the API process, the provider, the clients,
PostgreSQL and the whole machine come from /proc over the same window.

If a target is missed, the failing level runs once more with py-spy sampling the API
process, and where its time goes is written to the results.

Writes bench/results/stream.md, stream.json and its section of bench/README.md (or
--results-dir). Everything started here is stopped and removed, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve()
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import cpu_busy_ticks, raise_nofile, write_readme_section  # noqa: E402

if TYPE_CHECKING:
    from tests.e2e.browser.harness import Studio
    from tests.e2e.support import Lab

RESULTS = ROOT / "bench" / "results"
START, END = "<!-- stream-bench:start -->", "<!-- stream-bench:end -->"
LEVELS = (10, 50, 100, 150, 250, 500, 1000, 1500, 2000)
PASSWORD = "correct horse battery staple"
UPSTREAM_MODEL = "llama3"  # what the chat model registered by tests.e2e.browser.harness asks for
TARGET_FIRST_MS = 10.0     # issue 16: first-token delay added, p99
TARGET_TOKEN_MS = 5.0      # issue 16: per-token delay added, p99, at >= TARGET_STREAMS streams
TARGET_STREAMS = 1000
BIN_US = 10                # latency histograms: bins of 10 microseconds
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- histograms


def hist_add(hist: Counter[int], value_ns: int) -> None:
    hist[value_ns // (BIN_US * 1000)] += 1


def hist_percentile(hist: dict[int, int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a histogram, in milliseconds (the bin's top)."""
    total = sum(hist.values())
    if not total:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen >= rank:
            return (key + 1) * BIN_US / 1000
    return (max(hist) + 1) * BIN_US / 1000


def hist_merge(hists: Iterable[dict[Any, int]]) -> Counter[int]:
    out: Counter[int] = Counter()
    for hist in hists:
        for key, count in hist.items():
            out[int(key)] += count
    return out


# --------------------------------------------------------------------------- the fake provider
# A process of its own (`stream_bench.py provider --port P ...`), so that its CPU does not
# disturb the clients' timing. One timer for all streams: each tick writes the tokens that
# are due (a sleeping task per stream would cost a wake-up per token).

TICK_S = 0.001


class ProviderStream:
    """One streamed answer in flight: its connection and where it is in its schedule."""

    __slots__ = ("conn", "prefix", "sent", "due_tick")

    def __init__(self, conn: ProviderConnection, model: str) -> None:
        self.conn = conn
        self.prefix = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
                       b'"model":' + json.dumps(model).encode() + b',"choices":[{"index":0,')
        self.sent = 0
        self.due_tick = 0


class FakeProvider:
    def __init__(self, tokens: int, pace_ms: float) -> None:
        self.tokens = tokens
        self.pace_ticks = max(1, round(pace_ms / 1000 / TICK_S))
        self.origin = time.monotonic()
        self.buckets: dict[int, list[ProviderStream]] = {}
        self.served = 0

    def tick_now(self) -> int:
        return int((time.monotonic() - self.origin) / TICK_S)

    def start_stream(self, conn: ProviderConnection, model: str) -> None:
        stream = ProviderStream(conn, model)
        conn.write_chunk(stream.prefix + b'"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n')
        self.served += 1
        self.send(stream, self.tick_now())  # the first token at once

    def send(self, stream: ProviderStream, tick: int) -> None:
        conn = stream.conn
        if conn.closed:
            return
        k = stream.sent
        conn.write_chunk(stream.prefix + b'"delta":{"content":" %d:%d"},"finish_reason":null}]}\n\n'
                         % (k, time.monotonic_ns()))
        stream.sent = k + 1
        if stream.sent < self.tokens:
            stream.due_tick = tick + self.pace_ticks
            self.buckets.setdefault(stream.due_tick, []).append(stream)
            return
        conn.write_chunk(stream.prefix + b'"delta":{},"finish_reason":"stop"}]}\n\n')
        conn.write_chunk(b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
                         b'"model":"bench","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":%d,'
                         b'"total_tokens":%d}}\n\ndata: [DONE]\n\n' % (self.tokens, self.tokens + 12))
        conn.end_response()

    async def ticker(self) -> None:
        done = self.tick_now()
        while True:
            now = self.tick_now()
            while done <= now:
                for stream in self.buckets.pop(done, ()):
                    self.send(stream, stream.due_tick)
                done += 1
            await asyncio.sleep(max(0.0, (done * TICK_S) - (time.monotonic() - self.origin)))

    def complete(self, model: str) -> bytes:
        """A whole, unstreamed completion (a request with "stream": false)."""
        text = "".join(f" {k}:{time.monotonic_ns()}" for k in range(self.tokens))
        return json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
                           "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                                        "message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 12, "completion_tokens": self.tokens}}).encode()


class ProviderConnection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time (what an HTTP client pool sends)."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.closed = False
        self.streaming = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while not self.streaming:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4:head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length:]
            method, path, _ = head[0].split(" ", 2)
            self.handle(method, path, body)

    def handle(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path.endswith("/chat/completions"):
            request = json.loads(body or b"{}")
            model = str(request.get("model") or "bench")
            if request.get("stream"):
                self.streaming = True
                self.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                           b"transfer-encoding: chunked\r\n\r\n")
                self.provider.start_stream(self, model)
                return
            self.respond(200, self.provider.complete(model))
        elif method == "GET" and path.endswith("/models"):
            self.respond(200, json.dumps({"object": "list", "data": [
                {"id": UPSTREAM_MODEL, "object": "model", "created": 1700000000, "owned_by": "bench"}]}).encode())
        else:
            self.respond(404, b'{"error": {"message": "not found"}}')

    def respond(self, status: int, body: bytes) -> None:
        self.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                   % (status, len(body), body))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def write_chunk(self, payload: bytes) -> None:
        self.write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def end_response(self) -> None:
        self.write(b"0\r\n\r\n")
        self.streaming = False
        if self.buffer:  # a request that came early (not expected: clients wait for the end)
            self.data_received(b"")


async def serve_provider(port: int, tokens: int, pace_ms: float) -> None:
    provider = FakeProvider(tokens, pace_ms)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ProviderConnection(provider), "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ticker = asyncio.create_task(provider.ticker())
    print(f"listening on {port}", flush=True)
    await stop.wait()
    ticker.cancel()
    server.close()


# --------------------------------------------------------------------------- the client
# Processes of their own (`stream_bench.py client SPEC OUT`): raw asyncio sockets, one
# keep-alive connection per slot, an incremental HTTP/1.1 reader (chunked bodies) and an
# SSE splitter that reads only what it needs: the token texts of delta events.

TOKEN = re.compile(rb" (\d+):(\d+)")
CONTENT = re.compile(rb'"content":"([^"]*)"')


@dataclass
class ClientStats:
    """What one client process measured, over the window (histograms: bins of BIN_US µs)."""
    ttft: Counter[int] = field(default_factory=Counter)     # request sent -> first token received
    first: Counter[int] = field(default_factory=Counter)    # token 0: received - sent by the provider
    later: Counter[int] = field(default_factory=Counter)    # tokens 1..: received - sent
    started: int = 0          # chats started (in the window)
    completed: int = 0        # of those: every token in order and the end (done / [DONE]), checked
    started_all: int = 0      # over the whole pass (stagger and drain included)
    completed_all: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    inflight: list[int] = field(default_factory=list)       # streams open, sampled every 100 ms in the window
    cpu_s: float = 0.0        # this process's CPU over the window
    window_s: float = 0.0


class Exchange:
    """One request and its streamed answer, as it arrives."""

    def __init__(self, studio: bool, tokens: int, stats: ClientStats, window: tuple[int, int]) -> None:
        self.studio = studio
        self.tokens = tokens
        self.stats = stats
        self.window = window
        self.sent_ns = 0
        self.in_window = False
        self.status = 0
        self.chunked = False
        self.length: int | None = None
        self.body = bytearray()   # the non-streamed body (an error answer)
        self.sse = b""
        self.next_token = 0
        self.error: str | None = None
        self.finished = False     # done / [DONE] seen, and checked
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def events(self, data: bytes, now: int) -> None:
        """Decoded body bytes of an event stream, received at `now`."""
        self.sse += data
        *blocks, self.sse = self.sse.split(b"\n\n")
        for block in blocks:
            if self.studio:
                if block.startswith(b"event: delta\n"):
                    self.tokens_in(block, now)
                elif block.startswith(b"event: done\n"):
                    self.done(block.partition(b"\ndata: ")[2])
                elif block.startswith(b"event: error\n"):
                    self.error = "error event: " + str(json.loads(block.partition(b"\ndata: ")[2]).get("code"))
            elif block == b"data: [DONE]":
                self.done(None)
            elif block.startswith(b"data: {"):
                self.tokens_in(block, now)

    def tokens_in(self, block: bytes, now: int) -> None:
        found = CONTENT.search(block)
        if found is None:
            return
        for index, sent in TOKEN.findall(found.group(1)):
            k, sent_ns = int(index), int(sent)
            if k != self.next_token:
                self.error = self.error or f"token {k} where {self.next_token} was due"
            self.next_token = k + 1
            stats = self.stats
            if self.window[0] <= sent_ns < self.window[1]:
                hist_add(stats.first if k == 0 else stats.later, now - sent_ns)
            if k == 0 and self.in_window:
                hist_add(stats.ttft, now - self.sent_ns)

    def done(self, stored: bytes | None) -> None:
        if self.next_token != self.tokens:
            self.error = self.error or f"{self.next_token} of {self.tokens} tokens"
        elif stored is not None:
            # Studio's `done` carries the stored answer: its text must be every token, in order.
            message = json.loads(stored)
            kept = [int(k) for k, _ in TOKEN.findall(str(message.get("content", "")).encode())]
            if not message.get("id") or kept != list(range(self.tokens)):
                self.error = self.error or "the stored answer is not the streamed one"
        self.finished = self.error is None


class ClientConnection(asyncio.Protocol):
    """One slot's keep-alive connection: reads the answer to the exchange in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.head = b""
        self.in_body = False
        self.chunk_buffer = b""
        self.chunk_left = -1   # -1: reading a chunk-size line
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.exchange is not None:
            self.end(None if self.exchange.finished else "connection lost")

    def send(self, request: bytes, exchange: Exchange) -> None:
        assert self.transport is not None
        self.exchange, self.head, self.in_body = exchange, b"", False
        self.chunk_buffer, self.chunk_left = b"", -1
        exchange.sent_ns = time.monotonic_ns()
        self.transport.write(request)

    def end(self, error: str | None) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is None:
            return
        if error is not None and exchange.error is None:
            exchange.error = error
        if not exchange.ended.done():
            exchange.ended.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        exchange = self.exchange
        if exchange is None:
            return
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.head[:end].decode("latin-1").split("\r\n")
            data, self.head, self.in_body = self.head[end + 4:], b"", True
            exchange.status = int(lines[0].split(" ", 2)[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "transfer-encoding" and "chunked" in value.lower():
                    exchange.chunked = True
                elif name == "content-length":
                    exchange.length = int(value)
        if exchange.chunked:
            self.chunks(data, exchange, now)
        else:
            exchange.body += data
            if exchange.length is not None and len(exchange.body) >= exchange.length:
                self.end(f"HTTP {exchange.status}")

    def chunks(self, data: bytes, exchange: Exchange, now: int) -> None:
        buffer = self.chunk_buffer + data
        decoded: list[bytes] = []
        while True:
            if self.chunk_left < 0:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(buffer[:line_end].split(b";")[0], 16)
                buffer = buffer[line_end + 2:]
                if size == 0:
                    if decoded:
                        self.payload(b"".join(decoded), exchange, now)
                    self.chunk_buffer = b""
                    self.end(None if exchange.finished or exchange.error else
                             ("stream ended without done" if exchange.status == 200 else f"HTTP {exchange.status}"))
                    return
                self.chunk_left = size
            if len(buffer) < self.chunk_left + 2:
                break
            decoded.append(buffer[:self.chunk_left])
            buffer = buffer[self.chunk_left + 2:]
            self.chunk_left = -1
        self.chunk_buffer = buffer
        if decoded:
            self.payload(b"".join(decoded), exchange, now)

    def payload(self, data: bytes, exchange: Exchange, now: int) -> None:
        if exchange.status == 200:
            exchange.events(data, now)
        else:
            exchange.body += data


@dataclass
class ClientSpec:
    host: str
    port: int
    studio: bool               # Studio's event stream (else the provider's chunks)
    tokens: int
    requests: list[str]        # one raw HTTP request per slot (latin-1 text)
    offsets_ns: list[int]      # each slot's first start, after the common start
    stagger_ns: int            # from the start to the window
    window_ns: int
    drain_s: float             # how long the last streams may take after the window


async def run_client(spec: ClientSpec, start_ns: int) -> ClientStats:
    loop = asyncio.get_running_loop()
    stats = ClientStats()
    window = (start_ns + spec.stagger_ns, start_ns + spec.stagger_ns + spec.window_ns)
    inflight = 0

    async def sleep_until(at_ns: int) -> None:
        delay = (at_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)

    async def slot(index: int) -> None:
        nonlocal inflight
        request = spec.requests[index].encode("latin-1")
        await sleep_until(start_ns + spec.offsets_ns[index])
        conn: ClientConnection | None = None
        while time.monotonic_ns() < window[1]:
            if conn is None or conn.closed:
                try:
                    _, conn = await loop.create_connection(ClientConnection, spec.host, spec.port)
                except OSError as exc:
                    stats.errors[f"connect: {type(exc).__name__}"] += 1
                    conn = None
                    await asyncio.sleep(0.2)
                    continue
            exchange = Exchange(spec.studio, spec.tokens, stats, window)
            inflight += 1
            conn.send(request, exchange)
            exchange.in_window = window[0] <= exchange.sent_ns < window[1]
            stats.started_all += 1
            stats.started += exchange.in_window
            try:
                await asyncio.wait_for(asyncio.shield(exchange.ended),
                                       max(1.0, (window[1] - time.monotonic_ns()) / 1e9 + spec.drain_s))
            except TimeoutError:
                conn.end("no end in time")
                assert conn.transport is not None
                conn.transport.close()
            inflight -= 1
            if exchange.finished and exchange.error is None:
                stats.completed_all += 1
                stats.completed += exchange.in_window
            else:
                stats.errors[exchange.error or "unknown"] += 1
                if conn.transport is not None:
                    conn.transport.close()
                conn = None
                await asyncio.sleep(0.1)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    async def watch() -> None:
        await sleep_until(window[0])
        cpu, began = time.process_time(), time.monotonic()
        while time.monotonic_ns() < window[1]:
            stats.inflight.append(inflight)
            await asyncio.sleep(0.1)
        stats.cpu_s, stats.window_s = time.process_time() - cpu, time.monotonic() - began

    await asyncio.gather(watch(), *(slot(i) for i in range(len(spec.requests))))
    return stats


def client_main(spec_path: Path, out_path: Path) -> None:
    """Reads its spec, says `ready`, waits for the common start time on stdin, runs, writes its stats."""
    spec = ClientSpec(**json.loads(spec_path.read_text()))
    print("ready", flush=True)
    start_ns = int(sys.stdin.readline())
    stats = run_event_loop(run_client(spec, start_ns))
    # (not asdict: it would rebuild each Counter from its items, counting them)
    out_path.write_text(json.dumps({name: (dict(value) if isinstance(value, Counter) else value)
                                    for name, value in vars(stats).items()}))


def run_event_loop(coroutine: Any) -> Any:
    """uvloop when installed (uvicorn[standard] brings it, and Studio's API runs on it too)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - depends on the install
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# --------------------------------------------------------------------------- processes and CPU


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def proc_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@dataclass
class Processes:
    """The pids whose CPU is measured: the API process, the rest of `studio up` (its worker,
    the launcher), PostgreSQL, the fake provider; the clients are added per pass."""
    api: int
    studio_rest: list[int]
    postgres: list[int]
    provider: int

    def groups(self, clients: Sequence[int]) -> dict[str, list[int]]:
        return {"api": [self.api], "studio_other": self.studio_rest, "postgres": self.postgres,
                "provider": [self.provider], "clients": list(clients)}


def sample(groups: dict[str, list[int]]) -> dict[str, int]:
    ticks = {name: sum(proc_cpu_ticks(pid) for pid in pids) for name, pids in groups.items()}
    ticks["machine"] = cpu_busy_ticks()
    return ticks


def ours_running() -> list[int]:
    """Processes still running this script as the fake provider or a client."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            args = cmdline(int(entry.name)).split(b"\0")
            if str(THIS).encode() in args and (b"provider" in args or b"client" in args):
                found.append(int(entry.name))
    return found


def stop_process(proc: subprocess.Popen[Any], grace: float = 10) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# --------------------------------------------------------------------------- the run


@dataclass
class Options:
    levels: tuple[int, ...] = LEVELS
    tokens: int = 250
    pace_ms: float = 20.0
    window: float = 10.0          # seconds measured per pass
    rounds: int = 2
    users: int = 10
    client_procs: int = 1
    give_up_ms: float = 250.0     # a level whose added per-token p99 passes this ends the round's ramp
    profile: bool = True          # py-spy on the API process at the failing level, if a target is missed
    server: str = "uvicorn"       # STUDIO_API_SERVER

    @property
    def answer_s(self) -> float:
        return self.tokens * self.pace_ms / 1000


@dataclass
class Setup:
    studio: Studio
    processes: Processes
    provider_port: int
    conversations: list[tuple[str, dict[str, str]]]   # (conversation id, its owner's headers)
    model_id: str
    home: Path


def start_provider(lab: Lab, options: Options) -> tuple[subprocess.Popen[bytes], int]:
    from tests.e2e.support import free_port, port_answers

    port = free_port()
    out = (lab.base / "provider.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(THIS), "provider", "--port", str(port), "--tokens",
                             str(options.tokens), "--pace-ms", str(options.pace_ms)],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not port_answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the fake provider did not start: {(lab.base / 'provider.log').read_text()}")
        time.sleep(0.05)
    return proc, port


def start_studio(lab: Lab, provider_port: int, server: str = "uvicorn") -> Studio:
    """`studio up` on a fresh home: one API process, no rate limits, no backups, its
    "openai" connection pointed at the fake provider; the first admin registers the chat model."""
    from tests.e2e.browser.harness import SETUP_LINK, Studio
    from tests.e2e.support import child_env, free_port

    home = lab.home()
    port = free_port()
    env = child_env(home, port, STUDIO_API_WORKERS="1", STUDIO_RATE_LIMITS_ENABLED="false",
                    STUDIO_BACKUP_ENABLED="false", STUDIO_API_SERVER=server,
                    STUDIO_OPENAI_BASE_URL=f"http://127.0.0.1:{provider_port}/v1",
                    STUDIO_OPENAI_API_KEY="sk-stream-bench")
    proc = lab.start(["up"], env)
    proc.wait_ready(port)
    said = proc.wait_output("Stop with Ctrl+C.")
    found = SETUP_LINK.search(said)
    if found is None:
        raise RuntimeError(f"no setup link printed:\n{proc.describe()}")
    studio = Studio(proc=proc, home=home, port=port, setup_link=found.group(0), lab=lab, env=env)
    studio.ensure_chat_model()
    return studio


def find_processes(studio: Studio, provider: int) -> Processes:
    from studio.db.embedded import EmbeddedCluster
    from tests.e2e.support import descendants, postmaster_pid

    under = descendants(studio.proc.pid)
    apis = [pid for pid in under if cmdline(pid).endswith(b"\0-m\0studio\0api\0")]
    # granian forks the process that serves (the same command line) from `studio api`.
    forked = [pid for pid in apis if any(pid in descendants(parent) for parent in apis if parent != pid)]
    apis = forked or apis
    if len(apis) != 1:
        raise RuntimeError(f"expected one `studio api` process under `studio up`, found {apis}")
    # One API process: uvicorn serves in the `studio api` process itself (no supervisor).
    serving = [pid for pid in descendants(apis[0]) if b"multiprocessing" in cmdline(pid)]
    if serving:
        raise RuntimeError(f"the API runs in several processes ({serving}); expected STUDIO_API_WORKERS=1")
    postmaster = postmaster_pid(EmbeddedCluster(studio.home))
    postgres = [postmaster, *descendants(postmaster)] if postmaster else []
    return Processes(api=apis[0], studio_rest=[studio.proc.pid, *(p for p in under if p != apis[0])],
                     postgres=postgres, provider=provider)


async def make_users(url: str, options: Options, model_id: str, count: int,
                     log: Callable[[str], None]) -> list[tuple[str, dict[str, str]]]:
    """--users accounts signed up through the API, and `count` conversations shared among
    them (each with a title: a titled conversation queues no title job for the worker)."""
    import uuid

    import httpx

    users: list[tuple[httpx.AsyncClient, dict[str, str]]] = []
    for index in range(options.users):
        # Idle connections are dropped before uvicorn closes them (after 5 s): signing the
        # others up (password hashing) leaves a user's connection idle that long.
        client = httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(keepalive_expiry=2))
        email = f"stream-{index}-{uuid.uuid4().hex[:6]}@example.org"
        signup = await client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
        assert signup.status_code == 201, signup.text
        login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        csrf = login.json()["csrf_token"]
        client.headers["X-CSRF-Token"] = csrf
        users.append((client, {"Cookie": f"studio_session={client.cookies['studio_session']}",
                               "X-CSRF-Token": csrf}))
    limit = asyncio.Semaphore(16)
    conversations: list[tuple[str, dict[str, str]]] = [("", {})] * count

    async def create(index: int) -> None:
        client, headers = users[index % len(users)]
        async with limit:
            for attempt in range(3):
                try:
                    made = await client.post("/v1/conversations", json={"title": f"stream bench {index}",
                                                                        "model_id": model_id})
                    break
                except httpx.TransportError:  # a keep-alive connection closed meanwhile: a new one
                    if attempt == 2:
                        raise
        assert made.status_code == 201, made.text
        conversations[index] = (made.json()["id"], headers)

    try:
        await asyncio.gather(*(create(i) for i in range(count)))
    finally:
        for client, _ in users:
            await client.aclose()
    log(f"{options.users} users, {count} conversations")
    return conversations


def studio_request(port: int, conversation: str, headers: dict[str, str], model_id: str) -> str:
    body = json.dumps({"role": "user", "content": "Stream me an answer.", "generate": True, "parent_id": None,
                       "model_id": model_id}, separators=(",", ":"))
    lines = [f"POST /v1/conversations/{conversation}/messages HTTP/1.1", f"Host: 127.0.0.1:{port}",
             "Content-Type: application/json", "Accept: text/event-stream",
             *(f"{name}: {value}" for name, value in headers.items()), f"Content-Length: {len(body)}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


def direct_request(port: int) -> str:
    """What Studio's OpenAI adapter sends (providers/openai_compat.py), for the same question."""
    body = json.dumps({"model": UPSTREAM_MODEL, "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "Stream me an answer."}]}, separators=(",", ":"))
    lines = [f"POST /v1/chat/completions HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
             "Accept: text/event-stream", "Authorization: Bearer sk-stream-bench", f"Content-Length: {len(body)}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


@dataclass
class Pass:
    """One concurrency level on one path, one round: the merged client stats and the CPU."""
    path: str                 # "studio" or "direct"
    level: int
    round: int
    stats: dict[str, Any]
    cpu_cores: dict[str, float]   # per process group over the window, and the machine's other work
    window_s: float
    api_rss_mb: float
    load_avg: float

    def ms(self, which: str, q: float) -> float | None:
        return hist_percentile(self.stats[which], q)


def run_pass(lab: Lab, setup: Setup, options: Options, path: str, level: int, round_: int,
             log: Callable[[str], None], profile_to: Path | None = None) -> Pass:
    studio = path == "studio"
    procs = max(1, min(options.client_procs, level))
    answer_ns = int(options.answer_s * 1e9)
    window_ns = int(options.window * 1e9)
    specs: list[ClientSpec] = []
    for p in range(procs):
        slots = list(range(p, level, procs))
        if studio:
            requests = [studio_request(setup.studio.port, *setup.conversations[i], setup.model_id) for i in slots]
        else:
            requests = [direct_request(setup.provider_port)] * len(slots)
        specs.append(ClientSpec(host="127.0.0.1", port=setup.studio.port if studio else setup.provider_port,
                                studio=studio, tokens=options.tokens, requests=requests,
                                # Evenly staggered over one answer: from then on, `level` streams at once.
                                offsets_ns=[i * answer_ns // level for i in slots], stagger_ns=answer_ns,
                                window_ns=window_ns, drain_s=options.answer_s * 3 + 30))
    work = lab.base / f"pass-{path}-{level}-{round_}"
    work.mkdir()
    clients: list[subprocess.Popen[str]] = []
    try:
        for p, spec in enumerate(specs):
            (work / f"spec-{p}.json").write_text(json.dumps(asdict(spec)))
            clients.append(subprocess.Popen([sys.executable, str(THIS), "client", str(work / f"spec-{p}.json"),
                                             str(work / f"out-{p}.json")], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=(work / f"client-{p}.log").open("w"),
                                            text=True))
        for client in clients:
            assert client.stdout is not None
            if client.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a client did not start: {(work / 'client-0.log').read_text()[-2000:]}")
        start_ns = time.monotonic_ns() + 200_000_000
        for client in clients:
            assert client.stdin is not None
            client.stdin.write(f"{start_ns}\n")
            client.stdin.close()
        groups = setup.processes.groups([c.pid for c in clients])
        window_start = start_ns + answer_ns
        time.sleep(max(0.0, (window_start - time.monotonic_ns()) / 1e9))
        profiler = None
        if profile_to is not None:
            profiler = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                                         str(setup.processes.api), "--duration", str(int(options.window)),
                                         "--rate", "250", "--format", "raw", "--nonblocking", "--output",
                                         str(profile_to)], stdout=subprocess.DEVNULL,
                                        stderr=(work / "py-spy.log").open("w"))
        before, began = sample(groups), time.monotonic()
        time.sleep(max(0.0, (window_start + window_ns - time.monotonic_ns()) / 1e9))
        after, seconds = sample(groups), time.monotonic() - began
        rss = proc_rss_mb(setup.processes.api)
        load_avg = os.getloadavg()[0]
        if profiler is not None:
            profiler.wait(60)
        for client in clients:
            client.wait(options.answer_s * 3 + 90)
        for p, client in enumerate(clients):
            if client.returncode != 0:
                raise RuntimeError(f"client {p} failed: {(work / f'client-{p}.log').read_text()[-3000:]}")
    finally:
        for client in clients:
            stop_process(client)
    outs = [json.loads((work / f"out-{p}.json").read_text()) for p in range(len(specs))]
    stats: dict[str, Any] = {
        name: dict(hist_merge(o[name] for o in outs)) for name in ("ttft", "first", "later")}
    for name in ("started", "completed", "started_all", "completed_all"):
        stats[name] = sum(o[name] for o in outs)
    stats["errors"] = dict(sum((Counter(o["errors"]) for o in outs), Counter()))
    inflight = [sum(vals) for vals in zip(*(o["inflight"] for o in outs), strict=False)]
    stats["inflight_min"] = min(inflight) if inflight else 0
    stats["inflight_mean"] = sum(inflight) / len(inflight) if inflight else 0.0
    stats["client_cpu_max"] = max(o["cpu_s"] / o["window_s"] for o in outs if o["window_s"])
    cores = {name: (after[name] - before[name]) / CLK_TCK / seconds for name in before}
    ours = sum(v for k, v in cores.items() if k != "machine")
    cores["other"] = max(0.0, cores["machine"] - ours)
    result = Pass(path, level, round_, stats, {k: round(v, 3) for k, v in cores.items()}, seconds,
                  round(rss, 1), round(load_avg, 2))
    tokens = sum(stats["later"].values()) + sum(stats["first"].values())
    log(f"  {path:6} {level:5} streams (round {round_ + 1}): first token +{fmt(result.ms('first', 50))}/"
        f"{fmt(result.ms('first', 99))} ms, later +{fmt(result.ms('later', 50))}/{fmt(result.ms('later', 99))} ms "
        f"(p50/p99 received-sent), ttft p99 {fmt(result.ms('ttft', 99))} ms; {stats['completed']}/"
        f"{stats['started']} chats complete, errors {sum(stats['errors'].values())}; {tokens} tokens; api "
        f"{cores['api']:.2f} cores, clients {cores['clients']:.2f}, provider {cores['provider']:.2f}, "
        f"postgres {cores['postgres']:.2f}, other {cores['other']:.2f}")
    return result


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@dataclass
class Level:
    """One level, both paths, every round: the figures the report shows."""
    level: int
    rounds: list[dict[str, Any]]   # per round: studio and direct figures, added delays

    def median(self, key: str) -> float | None:
        values = sorted(r[key] for r in self.rounds if r.get(key) is not None)
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    def spread(self, key: str) -> tuple[float, float] | None:
        values = [r[key] for r in self.rounds if r.get(key) is not None]
        return (min(values), max(values)) if values else None


def added(studio: Pass, direct: Pass) -> dict[str, Any]:
    """One round of one level: each path's percentiles and Studio's added delay."""
    row: dict[str, Any] = {"round": studio.round}
    for which in ("ttft", "first", "later"):
        for q in (50, 99):
            s, d = studio.ms(which, q), direct.ms(which, q)
            row[f"studio_{which}_p{q}"], row[f"direct_{which}_p{q}"] = s, d
            row[f"added_{which}_p{q}"] = None if s is None or d is None else round(s - d, 3)
    for name, p in (("studio", studio), ("direct", direct)):
        row[f"{name}_started"] = p.stats["started"]
        row[f"{name}_completed"] = p.stats["completed"]
        row[f"{name}_started_all"] = p.stats["started_all"]
        row[f"{name}_completed_all"] = p.stats["completed_all"]
        row[f"{name}_errors"] = sum(p.stats["errors"].values())
        row[f"{name}_error_kinds"] = p.stats["errors"]
        row[f"{name}_inflight_mean"] = round(p.stats["inflight_mean"], 1)
        row[f"{name}_inflight_min"] = p.stats["inflight_min"]
        row[f"{name}_tokens"] = sum(p.stats["later"].values()) + sum(p.stats["first"].values())
        row[f"{name}_client_cores"] = p.cpu_cores["clients"]
        row[f"{name}_client_cpu_max"] = round(p.stats["client_cpu_max"], 3)
        row[f"{name}_provider_cores"] = p.cpu_cores["provider"]
        row[f"{name}_other_cores"] = p.cpu_cores["other"]
        row[f"{name}_machine_cores"] = p.cpu_cores["machine"]
        row[f"{name}_load_avg"] = p.load_avg
    row["api_cores"] = studio.cpu_cores["api"]
    # The API's CPU per token streamed (its chats' start and end included): what sets how
    # many streams a core carries at a given pace.
    row["api_us_per_token"] = (round(studio.cpu_cores["api"] * studio.window_s * 1e6 / row["studio_tokens"], 1)
                               if row["studio_tokens"] else None)
    row["api_rss_mb"] = studio.api_rss_mb
    row["postgres_cores"] = studio.cpu_cores["postgres"]
    row["studio_rest_cores"] = studio.cpu_cores["studio_other"]  # `studio up` itself and its worker
    return row


@dataclass
class Result:
    options: dict[str, Any]
    levels: list[Level]
    stored_answers: int               # assistant messages in the database at the end
    completed_studio_streams: int     # Studio streams that ended with `done`, every pass
    profiles: list[dict[str, Any]]   # py-spy's summaries, one per missed target
    seconds: float
    leftover: list[str]               # processes of ours still running after the stop (should be none)


def run(lab: Lab, options: Options, log: Callable[[str], None] = lambda _: None) -> Result:
    """The whole benchmark; stops what it started (the caller's Lab removes the rest)."""
    began = time.monotonic()
    raise_nofile()  # every stream is a socket, on each side; children inherit the limit
    provider, port = start_provider(lab, options)
    studio_procs: list[int] = []
    try:
        log("starting `studio up` (1 API process, rate limits off)")
        studio = start_studio(lab, port, options.server)
        processes = find_processes(studio, provider.pid)
        studio_procs = [processes.api, *processes.studio_rest]
        model_id = studio.ensure_chat_model()
        conversations = run_event_loop(make_users(studio.url, options, model_id, max(options.levels), log))
        setup = Setup(studio, processes, port, conversations, model_id, studio.home)
        levels, profiles = ramp(lab, setup, options, log)
        from tests.e2e.support import superuser_sql
        [(stored,)] = superuser_sql(studio.home, "SELECT count(*) FROM messages WHERE role = 'assistant'")
        completed = sum(r["studio_completed_all"] for lv in levels for r in lv.rounds)
    finally:
        stop_process(provider)
        for proc in lab.procs:
            if proc.proc.poll() is None:
                proc.terminate(grace=30)
    from tests.e2e.support import alive
    leftover = [f"{pid} {cmdline(pid)!r}" for pid in {provider.pid, *studio_procs, *ours_running()} if alive(pid)]
    return Result(options=asdict(options), levels=levels, stored_answers=int(stored),
                  completed_studio_streams=completed, profiles=profiles, seconds=time.monotonic() - began,
                  leftover=leftover)


def ramp(lab: Lab, setup: Setup, options: Options,
         log: Callable[[str], None]) -> tuple[list[Level], list[dict[str, Any]]]:
    levels: list[Level] = []
    for level in options.levels:
        # Every round of a level before the next level: whether to go on is decided on the
        # median of the rounds, not on one round that someone else's work slowed down.
        rows = []
        for round_ in range(options.rounds):
            # Alternate which path goes first, so that neither always runs on a machine just warmed up.
            order = ("direct", "studio") if round_ % 2 == 0 else ("studio", "direct")
            passes = {path: run_pass(lab, setup, options, path, level, round_, log) for path in order}
            rows.append(added(passes["studio"], passes["direct"]))
        levels.append(Level(level, rows))
        later = levels[-1].median("added_later_p99")
        if later is not None and later > options.give_up_ms and level != options.levels[-1]:
            log(f"  added per-token p99 {later:.0f} ms (median of the rounds) > {options.give_up_ms:.0f} ms: "
                "no higher level")
            break
    profiles = []
    if options.profile:
        for target, level in failing_levels(levels).items():
            log(f"profiling the API process at {level} streams (py-spy): {target}")
            out = lab.base / f"profile-{level}.txt"
            run_pass(lab, setup, options, "studio", level, options.rounds, log, profile_to=out)
            summary = summarize_profile(out, options.window, level)
            if summary is not None:
                profiles.append({"target": target, **summary})
    return levels, profiles


def failing_levels(levels: list[Level]) -> dict[str, int]:
    """Per missed target, the lowest level that misses it (where to profile): the
    per-token one at any level (a level below 1,000 that misses it means 1,000 is missed
    too), the first-token one; one level for both when it is the same."""
    out: dict[str, int] = {}
    for lv in levels:
        later = lv.median("added_later_p99")
        if later is not None and later >= TARGET_TOKEN_MS:
            out["per-token delay"] = lv.level
            break
    else:
        if levels and levels[-1].level < TARGET_STREAMS:
            out["per-token delay"] = levels[-1].level  # the ramp stopped below 1,000 streams
    for lv in levels:
        first = lv.median("added_ttft_p99")
        if first is not None and first >= TARGET_FIRST_MS:
            if out.get("per-token delay") == lv.level:
                return {"per-token and first-token delay": lv.level}
            out["first-token delay"] = lv.level
            break
    return out


def summarize_profile(path: Path, seconds: float, level: int) -> dict[str, Any] | None:
    """py-spy's raw output (collapsed stacks, one per line with its sample count): the
    functions where the samples are, by own time and with what they call."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [short_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {"level": level, "seconds": seconds, "samples": total, "rate": 250,
            "busy_share": round(total / (250 * seconds), 3) if seconds else None,
            "own": own.most_common(25), "inclusive": inclusive.most_common(40)}


def short_frame(frame: str) -> str:
    """`function (path/to/module.py:123)` -> `function (module.py)`; library paths shortened."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rpartition(":")[0] or where
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in file:
            file = file.rpartition(marker)[2]
    return f"{name} ({file})" if file else name


# --------------------------------------------------------------------------- the report


def verdicts(result: Result) -> dict[str, Any]:
    levels = result.levels

    def up_to(met: Callable[[Level], bool]) -> int:
        """The largest level up to which every level met it (0: not even the lowest)."""
        reached = 0
        for lv in levels:
            if not met(lv):
                break
            reached = lv.level
        return reached

    def no_errors(lv: Level) -> bool:
        return not any(r["studio_errors"] for r in lv.rounds)

    max_ok = up_to(lambda lv: (lv.median("added_later_p99") or 0) < TARGET_TOKEN_MS and no_errors(lv))
    first_ok = up_to(lambda lv: (lv.median("added_ttft_p99") or 0) < TARGET_FIRST_MS and no_errors(lv))
    return {"max_streams_under_5ms": max_ok,
            "streams_target_met": max_ok >= TARGET_STREAMS,
            "first_token_target_met_up_to": first_ok,
            "first_token_p99_at_lowest": levels[0].median("added_ttft_p99") if levels else None}


def report(result: Result, command: str, when: Any) -> tuple[list[str], list[str]]:
    """(the results page, the README section's summary lines)."""
    import platform

    opts = result.options
    v = verdicts(result)
    lines = ["| streams | added first token p50 / p99 | added per token p50 / p99 | errors | API CPU (cores) | "
             "API CPU per token | API RSS | clients CPU (cores) | provider CPU | PostgreSQL CPU | "
             "machine's other work (cores) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in result.levels:
        def m(key: str) -> str:
            return fmt(lv.median(key))

        def span(key: str) -> str:
            s = lv.spread(key)
            return "" if s is None or len(lv.rounds) < 2 else f" ({s[0]:.2f}..{s[1]:.2f})"
        errors = sum(r["studio_errors"] for r in lv.rounds)
        lines.append(f"| {lv.level:,} | {m('added_ttft_p50')} / **{m('added_ttft_p99')}** ms{span('added_ttft_p99')} | "
                     f"{m('added_later_p50')} / **{m('added_later_p99')}** ms{span('added_later_p99')} | {errors} | "
                     f"{m('api_cores')} | {fmt(lv.median('api_us_per_token'), 0)} µs | "
                     f"{lv.median('api_rss_mb') or 0:.0f} MB | {m('studio_client_cores')} | "
                     f"{m('studio_provider_cores')} | {m('postgres_cores')} | {m('studio_other_cores')} |")
    side = ["| streams | path | time to first token p50 / p99 | first token, received - sent, p50 / p99 | "
            "later tokens, received - sent, p50 / p99 | chats started / complete in the window | "
            "streams open (mean) | tokens measured | clients CPU (busiest process) | other work (cores) | load avg |",
            "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in result.levels:
        for r in lv.rounds:
            for path in ("direct", "studio"):
                side.append(
                    f"| {lv.level:,} (round {r['round'] + 1}) | {'Studio' if path == 'studio' else 'direct'} | "
                    f"{fmt(r[f'{path}_ttft_p50'])} / {fmt(r[f'{path}_ttft_p99'])} ms | "
                    f"{fmt(r[f'{path}_first_p50'])} / {fmt(r[f'{path}_first_p99'])} ms | "
                    f"{fmt(r[f'{path}_later_p50'])} / {fmt(r[f'{path}_later_p99'])} ms | "
                    f"{r[f'{path}_started']} / {r[f'{path}_completed']} | {r[f'{path}_inflight_mean']:.0f} | "
                    f"{r[f'{path}_tokens']:,} | {r[f'{path}_client_cores']:.2f} ({r[f'{path}_client_cpu_max']:.2f}) | "
                    f"{r[f'{path}_other_cores']:.2f} | {r[f'{path}_load_avg']:.2f} |")
    errors = {}
    for lv in result.levels:
        for r in lv.rounds:
            for path in ("studio", "direct"):
                for kind, n in r[f"{path}_error_kinds"].items():
                    errors[f"{path}, {lv.level} streams, round {r['round'] + 1}: {kind}"] = n
    verdict = [
        f"- First-token delay added under {TARGET_FIRST_MS:.0f} ms at p99: "
        + (f"**met** up to {v['first_token_target_met_up_to']:,} streams" if v["first_token_target_met_up_to"]
           else "**not met** at any level")
        + f" (at {result.levels[0].level} streams: {fmt(v['first_token_p99_at_lowest'])} ms)."
        if result.levels else "- no level ran",
        f"- At least {TARGET_STREAMS:,} concurrent streams per API process with the per-token delay added "
        f"under {TARGET_TOKEN_MS:.0f} ms at p99: **{'met' if v['streams_target_met'] else 'not met'}**; "
        f"the most streams carried within it (every level up to it too, no error): "
        f"**{v['max_streams_under_5ms']:,}**.",
    ]
    per_token = [lv.median("api_us_per_token") for lv in result.levels]
    known = [x for x in per_token if x]
    if known:
        cost = sorted(known)[len(known) // 2]
        verdict.append(
            f"- What bounds it: the API process spends about {cost:.0f} µs of CPU per token streamed (median over "
            f"the levels; its chats' start and end included), so one core carries at most ~{1e6 / cost:,.0f} "
            f"tokens/s: ~{1e6 / cost * opts['pace_ms'] / 1000:,.0f} streams at one token every "
            f"{opts['pace_ms']:g} ms, and fewer within a 5 ms p99 (queues grow well before 100% CPU). "
            f"{TARGET_STREAMS:,} streams at this pace would take ~{TARGET_STREAMS * cost / opts['pace_ms'] / 1000:.0f} "
            "cores: several API processes (`STUDIO_API_WORKERS`), not one.")
    summary = [
        f"{opts['tokens']} tokens per answer, one every {opts['pace_ms']:g} ms (the first at once), "
        f"{opts['window']:g} s measured per level and path, {opts['rounds']} round(s); medians of the rounds, "
        "(min..max) over the rounds:", "", *lines, "", *verdict]
    md = ["# Streamed chat overhead", "",
          f"Run {when:%Y-%m-%d %H:%M} UTC with {command} ({result.seconds:.0f} s in all), {os.cpu_count()} cores "
          f"(shared: see the *other work* and load average columns), Python {platform.python_version()}, "
          f"kernel {platform.release()}.", "",
          "## Studio's added delay", "",
          "*Added*: the Studio path's percentile minus the direct path's at the same concurrency, same client "
          "code. *First token*: time to first token (request sent to the first token received), which includes "
          "what Studio does before it asks the model. *Per token*: each later token's time received minus the "
          "time the provider sent it. CPU in cores over the measured window, from /proc; RSS of the API process "
          "at the window's end.", "",
          *summary, "",
          "## Each round, side by side with the direct path", "", *side, "",
          "Errors: " + ("none" if not errors else "; ".join(f"{k}: {n}" for k, n in errors.items())) + ".",
          "",
          f"Stored answers: {result.stored_answers:,} assistant messages in the database for "
          f"{result.completed_studio_streams:,} Studio streams that ended with `done` (the profiling pass "
          "included); every one was checked: every token in order, the stored text equal to the streamed one.",
          ""]
    for profile in result.profiles:
        md += profile_section(profile)
    md += ["## Changes made from this benchmark's findings (issue 16)", "",
           ("- The provider's HTTP client (`providers/http.py`) used httpx's default pool: at most 100 "
            "connections per provider, 20 kept idle. A streamed answer holds its connection as long as it "
            "streams, so from the 101st concurrent stream on, chats waited for another answer to finish before "
            "their first token (time to first token p99 of 2 to 3.6 s at 150 and 300 streams in the first "
            "runs). Now no cap on connections (the requests the process serves are the bound), up to 1,000 "
            "kept idle."),
           ("- Every streamed chat opened a new connection to the provider: the OpenAI-compatible, Anthropic "
            "and Ollama adapters stopped reading at the answer's last event ([DONE], message_stop, "
            "`\"done\": true`), a step before the body's end, and httpx closes a connection whose response "
            "was not read to its end. Now they read that end (at most 50 ms, `providers/http.drain`), and the "
            "connection goes back to the pool: no TCP (and, with a cloud provider, TLS) handshake per chat."),
           ""]
    md += ["## How", "",
           ("A fresh `studio up` (embedded PostgreSQL, `STUDIO_API_WORKERS=1`, "
            f"`STUDIO_API_SERVER={result.options.get('server', 'uvicorn')}`, `STUDIO_RATE_LIMITS_ENABLED=false`, "
            "backups off; its worker runs too and has nothing to do). The chat model is the `openai` connection "
            "pointed at a fake OpenAI-compatible server in its own process (asyncio on uvloop, one 1 ms timer for "
            "every stream), which answers `POST /v1/chat/completions` with `stream: true` as OpenAI does: chunked "
            "HTTP/1.1, `data: {\"object\": \"chat.completion.chunk\", ...}` events (the role, then one token "
            "each, then `finish_reason`, then the usage chunk) and `data: [DONE]`. Each token's text is "
            "` <index>:<send time>` with the send time read from CLOCK_MONOTONIC (shared by every process of "
            "the machine) just before the write."),
           "",
           (f"{opts['users']} users signed up through the API own the conversations (one per stream, titled so "
            "that no title job runs); each client slot posts `POST /v1/conversations/{id}/messages` "
            "(`generate: true`, a new root question each time, so every prompt is the same size) over its own "
            "keep-alive connection, with the user's session cookie and CSRF token, and starts its next chat as "
            "soon as the last one ended: one stream per conversation at a time. The client processes "
            f"({opts['client_procs']}) are asyncio on uvloop over raw sockets with their own HTTP/1.1 and SSE "
            "reading (only the delta events' text is looked at; `done` is decoded and checked once per chat). "
            "The reference is the same client code posting what Studio's OpenAI adapter posts straight to the "
            "fake provider, at the same concurrency."),
           "",
           ("Each pass (one level, one path): the slots start evenly staggered over one answer's duration, so "
            "that from then on every slot has a stream open (see *streams open*, sampled every 100 ms); the "
            f"next {opts['window']:g} s are measured (tokens the provider sent in it; chats started in it for "
            "the time to first token); then no new chat starts and the open ones finish. Percentiles are "
            "nearest-rank over histograms of 10 µs bins. The levels run from the lowest, each level's rounds "
            f"one after the other; a level whose added per-token p99 (median of its rounds) passes "
            f"{opts['give_up_ms']:g} ms ends the ramp (higher levels are not run). The paths alternate which "
            "goes first from one round to the next."),
           "",
           ("CPU: utime + stime from /proc/<pid>/stat over the window for the API process, the rest of "
            "`studio up` (launcher, worker), PostgreSQL's processes, the fake provider and the clients; "
            "*other work* is the machine's busy time (/proc/stat) minus all of those: someone else's work on "
            "this shared machine. The clients' busiest process is shown next to their total: near 1.00 it "
            "would be saturated and its own delays would show in both paths."),
           ""]
    return md, summary


def profile_section(profile: dict[str, Any]) -> list[str]:
    out = [f"## Where the API process's time goes ({profile['level']:,} streams; target missed: {profile['target']})", "",
           (f"py-spy (`record --nonblocking --rate {profile['rate']}`) on the API process for {profile['seconds']:g} s "
            f"during one more Studio pass at {profile['level']:,} streams: {profile['samples']:,} samples of a "
            f"busy thread, {100 * (profile['busy_share'] or 0):.0f}% of the time. Own time (the function on top "
            "of the stack):"), "",
           "| function | share of samples |", "|:---|---:|"]
    total = profile["samples"] or 1
    for name, count in profile["own"][:20]:
        out.append(f"| `{name}` | {100 * count / total:.1f}% |")
    out += ["", "With what it calls (the functions in the stack):", "", "| function | share of samples |",
            "|:---|---:|"]
    for name, count in profile["inclusive"][:30]:
        out.append(f"| `{name}` | {100 * count / total:.1f}% |")
    out += ["", ("Reading it: `Runner.run` is uvloop's own C code (polling, socket reads, callbacks). A function "
                 "that writes to a socket (uvicorn's `RequestResponseCycle.send`, psycopg's `_send_query_*`) is "
                 "charged with the kernel's work of delivering the bytes to the receiving process on this "
                 "machine, and with the time the API process waits for a core after waking that process (on 2 "
                 "shared cores). Per token the API runs httpx/httpcore/h11 (reading the provider's chunk, with an "
                 "anyio timeout scope per read), Studio's SSE parsing (`sse_data`, `_delta`), the answer "
                 "generator (`events`, `_sse`), Starlette's StreamingResponse and five ASGI `send` wrappers "
                 "(Starlette's error and exception middlewares, RequestGuard twice, HttpMetrics) down to "
                 "uvicorn's write; Studio's own code is a small share of it. Per chat: the two database "
                 "transactions (the question before the first token, the answer after the last).")]
    return [*out, ""]


def write_results(result: Result, command: str, results_dir: Path, readme: bool) -> Path:
    import datetime as dt

    when = dt.datetime.now(dt.UTC)
    md, summary = report(result, command, when)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "stream.md").write_text("\n".join(md))
    raw = {"when": when.isoformat(), "command": command, "options": result.options,
           "verdicts": verdicts(result), "stored_answers": result.stored_answers,
           "completed_studio_streams": result.completed_studio_streams, "seconds": round(result.seconds, 1),
           "leftover": result.leftover, "profiles": result.profiles,
           "levels": [{"level": lv.level, "rounds": lv.rounds} for lv in result.levels]}
    (results_dir / "stream.json").write_text(json.dumps(raw, indent=1) + "\n")
    if readme:
        write_readme_section(START, END, [
            "## Streamed chat overhead (`stream_bench.py`)", "",
            ("The delay one API process adds to each token of streamed chat answers, at 10 to 2,000 concurrent "
             "streams, against the same client reading the model server directly: a fake OpenAI-compatible "
             "server in its own process streams tokens at a fixed pace, each stamped with its send time. Also "
             "the time to first token, and CPU of every process. Starts its own `studio up` (1 API process, "
             "rate limits off) and removes it; if a target is missed, py-spy profiles the API process at the "
             "failing level. 5-15 minutes at the defaults (the ramp stops at the first level far past the "
             "target). The e2e tier runs it tiny "
             "(`tests/e2e/test_stream_bench_e2e.py`)."), "",
            "```sh",
            ".venv/bin/python bench/stream_bench.py [--levels 10 50 100 150 250 500 1000 1500 2000] [--tokens 250] "
            "[--pace-ms 20] [--window 10] [--rounds 2] [--users 10] [--client-procs 1]",
            "```", "",
            f"Last run: {when:%Y-%m-%d %H:%M} UTC, {command}; {os.cpu_count()} cores, shared.", "",
            *summary, "",
            "Details: [results/stream.md](results/stream.md), raw: [results/stream.json](results/stream.json).",
        ])
    return results_dir / "stream.md"


# --------------------------------------------------------------------------- the command


def main(argv: list[str]) -> int:
    if argv[:1] == ["provider"]:
        parser = argparse.ArgumentParser(prog="stream_bench.py provider")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--tokens", type=int, required=True)
        parser.add_argument("--pace-ms", type=float, required=True)
        args = parser.parse_args(argv[1:])
        run_event_loop(serve_provider(args.port, args.tokens, args.pace_ms))
        return 0
    if argv[:1] == ["client"]:
        client_main(Path(argv[1]), Path(argv[2]))
        return 0

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="concurrent streams")
    parser.add_argument("--tokens", type=int, default=Options.tokens, help="tokens per answer")
    parser.add_argument("--pace-ms", type=float, default=Options.pace_ms, help="between two tokens")
    parser.add_argument("--window", type=float, default=Options.window, help="seconds measured per pass")
    parser.add_argument("--rounds", type=int, default=Options.rounds)
    parser.add_argument("--users", type=int, default=Options.users)
    parser.add_argument("--client-procs", type=int, default=Options.client_procs)
    parser.add_argument("--give-up-ms", type=float, default=Options.give_up_ms,
                        help="stop the ramp past a level whose added per-token p99 exceeds this")
    parser.add_argument("--no-profile", action="store_true", help="no py-spy pass when a target is missed")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default=Options.server,
                        help="STUDIO_API_SERVER of the API process")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="write stream.md/json here (and leave bench/README.md alone)")
    args = parser.parse_args(argv)
    from tests.e2e.support import NO_POSTGRES, Lab

    if NO_POSTGRES is not None:
        print(NO_POSTGRES, file=sys.stderr)
        return 2
    options = Options(levels=tuple(sorted(set(args.levels))), tokens=args.tokens, pace_ms=args.pace_ms,
                      window=args.window, rounds=args.rounds, users=args.users, client_procs=args.client_procs,
                      give_up_ms=args.give_up_ms, profile=not args.no_profile, server=args.server)
    command = "`.venv/bin/python bench/stream_bench.py" + (f" {' '.join(argv)}" if argv else "") + "`"
    lab = Lab()
    try:
        result = run(lab, options, log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        lab.cleanup()
    path = write_results(result, command, args.results_dir or RESULTS, readme=args.results_dir is None)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
