"""Faults under live load, nothing lost: what bench/fault_bench.py and
tests/e2e/test_faults_e2e.py share (one code path, two sizes).

A real `studio up` on a fresh home (its embedded PostgreSQL, STUDIO_API_WORKERS API
processes under uvicorn's supervisor, its worker) plus extra `studio worker` processes,
as a deployment that runs several would; chat answered by the test suite's fake
OpenAI-compatible server, audio and video by the local espeak-ng and ffmpeg providers,
media stored under a small tmpfs of its own (as root) so its disk can be filled.

Simulated users (asyncio, httpx) sign in, create conversations, post messages, chat
(streamed answers), queue generations, upload files and download them. Every request is
recorded with its outcome; every write the server acknowledged (2xx) with what it wrote
(its id, a unique marker in its content). Meanwhile the faults come one at a time, each
in its own window: PostgreSQL restarted, an API process SIGKILLed (its supervisor starts
another), a worker SIGKILLed while it runs a job (another one is started), the storage
directory's disk filled to the last byte (then freed). After each, the time until
/readyz answers 200 and a write of the kind the fault hit succeeds again.

Afterwards, as the embedded superuser and through the API: every acknowledged write is
there exactly once (uploads and generation results download intact), every accepted
generation ended exactly once (one final status, one result, one usage row, nothing left
running or leased). Processes and mounts started here are stopped by `run`, also on
failure (the rest by the caller's Lab).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from studio.db.embedded import EmbeddedCluster
from tests.e2e.browser.harness import Studio, start_studio
from tests.e2e.support import IS_ROOT, Lab, StudioProcess, alive, descendants, superuser_sql
from tests.providers.fakes import FakeOpenAI

FAULTS = ("postgres_restart", "api_kill", "worker_kill", "disk_full")
FAULT_NAMES = {
    "baseline": "none (baseline)",
    "postgres_restart": "PostgreSQL restarted",
    "api_kill": "API process killed (SIGKILL)",
    "worker_kill": "worker killed mid-job (SIGKILL)",
    "disk_full": "storage disk full",
}
TERMINAL = {"succeeded", "failed", "canceled"}
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PASSWORD = "correct horse battery staple"
LEASE_SECONDS = 8.0  # STUDIO_WORKER_LEASE_SECONDS: a killed worker's job is rescued within seconds
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The video a worker is killed in the middle of: a few seconds of encoding on 2 cores.
LONG_VIDEO = {"duration_seconds": 10, "width": 1280, "height": 720, "fps": 30}
SHORT_VIDEO = {"duration_seconds": 1, "width": 160, "height": 120}
# What one user does, by weight.
MIX = {"login": 1, "conversation": 1, "message": 3, "chat": 2, "generation": 2, "upload": 2, "download": 3}


@dataclass
class Options:
    users: int = 4
    window: float = 8.0      # seconds of load per fault window (the fault and its recovery inside it)
    baseline: float = 4.0    # seconds of load before the first fault
    faults: tuple[str, ...] = FAULTS
    think: float = 0.4       # mean pause (s) between one user's requests
    api_workers: int = 2     # STUDIO_API_WORKERS under `studio up`
    extra_workers: int = 1   # `studio worker` processes besides the one of `studio up`
    pg_down: float = 2.0     # seconds PostgreSQL stays stopped
    storage_mb: int = 64     # the storage tmpfs (as root; without root the disk fault is skipped)
    upload_kb: int = 32      # size of each uploaded file
    settle_timeout: float = 240.0  # for every accepted generation to end, after the load
    recover_timeout: float = 120.0


@dataclass
class Call:
    kind: str
    start: float  # seconds since the load began
    end: float
    status: int | None  # None: no HTTP answer
    error: str | None = None  # exception name, or what went wrong in a 2xx stream


@dataclass
class Write:
    """An acknowledged write: what was written and where to find it."""
    kind: str  # session, conversation, message, question, answer, generation, upload
    at: float
    user: int
    id: str
    marker: str = ""
    sha256: str = ""


@dataclass
class Window:
    fault: str
    start: float
    end: float = 0.0
    lifted: float | None = None      # the fault is over (PostgreSQL started again, disk freed ...)
    recovered: float | None = None   # /readyz 200 and a write of the kind it hit succeeded
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorder:
    began: float = field(default_factory=time.monotonic)
    calls: list[Call] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.began

    def call(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def wrote(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)


def marker() -> str:
    return f"fault-{uuid.uuid4().hex}"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()  # auth/tokens.py: sessions are stored hashed


# --------------------------------------------------------------------------- the deployment


@dataclass
class Deployment:
    lab: Lab
    studio: Studio
    fake: FakeOpenAI
    env: dict[str, str]
    storage: Path
    tmpfs: bool
    workers: list[StudioProcess] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.studio.home

    @property
    def url(self) -> str:
        return self.studio.url

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return superuser_sql(self.home, query, params)

    def start_worker(self) -> StudioProcess:
        worker = self.lab.start(["worker"], self.env)
        worker.wait_output("started (concurrency", timeout=60)
        self.workers.append(worker)
        return worker

    def api_servers(self) -> list[int]:
        """The processes serving under `studio api` (uvicorn's supervisor) under `studio up`."""
        def cmdline(pid: int) -> bytes:
            try:
                return Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return b""
        apis = [pid for pid in descendants(self.studio.proc.pid) if cmdline(pid).endswith(b"\0-m\0studio\0api\0")]
        if not apis:
            return []
        return [pid for pid in descendants(apis[0]) if b"multiprocessing.spawn" in cmdline(pid) and alive(pid)]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False


@contextlib.contextmanager
def storage_dir(lab: Lab, megabytes: int) -> Iterator[tuple[Path, bool]]:
    """The storage directory: a tmpfs of `megabytes` as root (its disk can be filled
    without touching anything else), else a plain directory. Unmounted afterwards."""
    path = lab.base / "storage"
    path.mkdir()
    if not IS_ROOT:
        yield path, False
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "studio-faults", str(path)],
                   check=True, capture_output=True, timeout=30)
    try:
        yield path, True
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def start(lab: Lab, fake: FakeOpenAI, storage: Path, tmpfs: bool, options: Options) -> Deployment:
    extra = {"STUDIO_API_WORKERS": str(options.api_workers), "STUDIO_STORAGE_DIR": str(storage),
             "STUDIO_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
             "STUDIO_RATE_LIMIT_UPLOADS_PER_MINUTE": "1000"}
    studio = start_studio(lab, fake, True, **extra)
    studio.proc.wait_output("Stop with Ctrl+C.")
    deployment = Deployment(lab=lab, studio=studio, fake=fake, env=studio.env, storage=storage, tmpfs=tmpfs)
    for _ in range(options.extra_workers):
        deployment.start_worker()
    return deployment


def worker_id(proc: StudioProcess) -> str:
    return f"{socket.gethostname()}:{proc.pid}"  # WorkerOptions.worker_id


# --------------------------------------------------------------------------- the users


@dataclass
class User:
    index: int
    email: str
    client: httpx.AsyncClient
    conversation: str = ""
    files: list[tuple[str, str]] = field(default_factory=list)  # (media id, sha256) it may download


class Load:
    """The simulated users, on an asyncio loop in a thread of their own."""

    def __init__(self, deployment: Deployment, options: Options, recorder: Recorder, models: dict[str, str]) -> None:
        self.d = deployment
        self.options = options
        self.rec = recorder
        self.models = models
        self.stop = threading.Event()
        self.users: list[User] = []
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            try:
                asyncio.run(self._main(ready))
            except BaseException as exc:  # reported by join()
                self.failure = exc
                ready.set()

        self.thread = threading.Thread(target=main, name="fault-load", daemon=True)
        self.thread.start()
        if not ready.wait(120) or self.failure is not None:
            raise RuntimeError(f"the users could not sign up: {self.failure!r}")

    def join(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(120)
        if self.failure is not None:
            raise RuntimeError(f"the load stopped: {self.failure!r}") from self.failure

    async def _main(self, ready: threading.Event) -> None:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
        for index in range(self.options.users):
            client = httpx.AsyncClient(base_url=self.d.url, timeout=30, limits=limits)
            email = f"fault-{index}-{uuid.uuid4().hex[:6]}@example.org"
            signup = await client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
            assert signup.status_code == 201, signup.text
            login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            created = await client.post("/v1/conversations", json={"title": f"load {index}",
                                                                   "model_id": self.models["chat"]})
            assert created.status_code == 201, created.text
            self.users.append(User(index, email, client, created.json()["id"]))
        ready.set()
        try:
            await asyncio.gather(*(self._user(user) for user in self.users))
        finally:
            for user in self.users:
                await user.client.aclose()

    async def _user(self, user: User) -> None:
        rng = random.Random(user.index)
        kinds, weights = list(MIX), list(MIX.values())
        while not self.stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            start = self.rec.now()
            status: int | None = None
            error: str | None = None
            try:
                status, error = await getattr(self, f"_{kind}")(user, rng)
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            self.rec.call(Call(kind, start, self.rec.now(), status, error))
            await asyncio.sleep(rng.expovariate(1 / self.options.think))

    def _wrote(self, kind: str, user: User, id_: str, mark: str = "", sha: str = "") -> None:
        self.rec.wrote(Write(kind, self.rec.now(), user.index, id_, mark, sha))

    async def _login(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        async with httpx.AsyncClient(base_url=self.d.url, timeout=30) as fresh:
            response = await fresh.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
            if response.status_code == 200:
                self._wrote("session", user, token_hash(fresh.cookies["studio_session"]).hex())
            return response.status_code, None

    async def _conversation(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        mark = marker()
        response = await user.client.post("/v1/conversations", json={"title": mark})
        if response.status_code == 201:
            self._wrote("conversation", user, response.json()["id"], mark)
        return response.status_code, None

    async def _message(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        mark = marker()
        response = await user.client.post(f"/v1/conversations/{user.conversation}/messages",
                                          json={"role": "user", "content": mark, "parent_id": None})
        if response.status_code == 201:
            self._wrote("message", user, response.json()["id"], mark)
        return response.status_code, None

    async def _chat(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        """A streamed answer: the question is stored before the 200, the answer at `done`."""
        mark = marker()
        body = {"role": "user", "content": mark, "generate": True, "parent_id": None, "model_id": self.models["chat"]}
        async with user.client.stream("POST", f"/v1/conversations/{user.conversation}/messages",
                                      json=body) as response:
            if response.status_code != 200:
                await response.aread()
                return response.status_code, None
            event, question = "", None
            try:
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                    elif line.startswith("data: ") and event in ("message", "done", "error"):
                        data = json.loads(line[len("data: "):])
                        if event == "message":
                            question = data["id"]
                            self._wrote("question", user, question, mark)
                        elif event == "done":
                            self._wrote("answer", user, data["id"], question or "")
                            return 200, None
                        else:
                            return 200, f"error event: {data.get('code')}"
            except httpx.HTTPError as exc:
                return 200, f"stream cut ({type(exc).__name__})"
            return 200, "stream ended without done"

    async def _generation(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        mark = f"Fault {uuid.uuid4().hex[:10]}"  # espeak reads it aloud: short
        if rng.random() < 0.8:
            body = {"type": "audio", "model_id": self.models["audio"], "prompt": mark, "params": {}}
        else:
            body = {"type": "video", "model_id": self.models["video"], "prompt": mark, "params": SHORT_VIDEO}
        response = await user.client.post("/v1/generations", json=body)
        if response.status_code == 202:
            self._wrote("generation", user, response.json()["id"], mark)
        return response.status_code, None

    async def _upload(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        mark = marker()
        content = PNG_MAGIC + mark.encode() + rng.randbytes(self.options.upload_kb * 1024)
        sha = hashlib.sha256(content).hexdigest()
        response = await user.client.post("/v1/uploads", content=content, headers={"Content-Type": "image/png"})
        if response.status_code == 201:
            media = response.json()["id"]
            self._wrote("upload", user, media, mark, sha)
            user.files.append((media, sha))
        return response.status_code, None

    async def _download(self, user: User, rng: random.Random) -> tuple[int, str | None]:
        if not user.files:
            return await self._upload(user, rng)
        media, sha = rng.choice(user.files)
        response = await user.client.get(f"/v1/media/{media}")
        if response.status_code == 200 and hashlib.sha256(response.content).hexdigest() != sha:
            self.rec.corrupt.append(media)
            return 200, "different bytes"
        return response.status_code, None


# --------------------------------------------------------------------------- probes and faults


class Probe:
    """A user of its own, outside the load: tells when a fault's kind of write works again."""

    def __init__(self, deployment: Deployment, recorder: Recorder, models: dict[str, str]) -> None:
        self.d = deployment
        self.rec = recorder
        self.models = models
        self.client = httpx.Client(base_url=deployment.url, timeout=15)
        email = f"probe-{uuid.uuid4().hex[:6]}@example.org"
        assert self.client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
        login = self.client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        self.client.headers["X-CSRF-Token"] = login.json()["csrf_token"]

    def close(self) -> None:
        self.client.close()

    def write(self, kind: str) -> bool:
        """One write; recorded (and verified later) like the users' when acknowledged."""
        mark = marker()
        try:
            if kind == "upload":
                content = PNG_MAGIC + mark.encode() + os.urandom(1024)
                response = self.client.post("/v1/uploads", content=content, headers={"Content-Type": "image/png"})
                ok = response.status_code == 201
                sha = hashlib.sha256(content).hexdigest()
            else:
                response = self.client.post("/v1/conversations", json={"title": mark})
                ok, sha = response.status_code == 201, ""
        except httpx.HTTPError:
            return False
        if ok:
            self.rec.wrote(Write(kind if kind == "upload" else "conversation", self.rec.now(), -1,
                                 response.json()["id"], mark, sha))
        return ok

    def video(self) -> str | None:
        mark = marker()
        try:
            response = self.client.post("/v1/generations", json={"type": "video", "model_id": self.models["video"],
                                                                 "prompt": f"Long {mark}", "params": LONG_VIDEO})
        except httpx.HTTPError:
            return None
        if response.status_code != 202:
            return None
        gid = str(response.json()["id"])
        self.rec.wrote(Write("generation", self.rec.now(), -1, gid, f"Long {mark}"))
        return gid

    def recover(self, window: Window, kind: str, timeout: float) -> None:
        """Waits until /readyz is 200 and a `kind` write succeeds; records when."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.d.ready() and self.write(kind):
                window.recovered = self.rec.now()
                return
            time.sleep(0.1)
        window.notes.append(f"not recovered within {timeout:.0f} s")


def _sleep_until(recorder: Recorder, at: float) -> None:
    while (left := at - recorder.now()) > 0:
        time.sleep(min(left, 0.2))


def postgres_restart(d: Deployment, probe: Probe, window: Window, options: Options) -> None:
    cluster = EmbeddedCluster(d.home)
    cluster.stop(mode="fast")
    time.sleep(options.pg_down)
    cluster.start()
    window.lifted = probe.rec.now()
    probe.recover(window, "conversation", options.recover_timeout)


def api_kill(d: Deployment, probe: Probe, window: Window, options: Options) -> None:
    servers = d.api_servers()
    if not servers:
        raise RuntimeError("no API process found under `studio up`")
    victim = servers[0]
    os.kill(victim, signal.SIGKILL)
    window.lifted = probe.rec.now()  # the fault is the kill itself
    window.extra["killed_pid"] = victim
    deadline = time.monotonic() + options.recover_timeout
    while time.monotonic() < deadline:
        now_serving = d.api_servers()
        if len(now_serving) == len(servers) and victim not in now_serving:
            window.extra["replaced_after_s"] = round(probe.rec.now() - window.lifted, 2)
            break
        time.sleep(0.1)
    else:
        window.notes.append("the killed API process was not replaced")
    probe.recover(window, "conversation", options.recover_timeout)


def worker_kill(d: Deployment, probe: Probe, window: Window, options: Options) -> None:
    """SIGKILL an extra worker (ffmpeg and all) while it runs a job, then start another."""
    ours = {worker_id(w): w for w in d.workers if w.proc.poll() is None}
    deadline = time.monotonic() + 60
    held: tuple[str, str] | None = None
    next_video = 0.0
    while held is None and time.monotonic() < deadline:
        if time.monotonic() >= next_video:  # long videos keep every worker busy
            probe.video()
            next_video = time.monotonic() + 2
        rows = d.sql("SELECT worker_id, generation_id::text FROM jobs WHERE status = 'running'"
                     " AND worker_id = ANY(%s) AND generation_id IS NOT NULL", (list(ours),))
        if rows:
            held = (str(rows[0][0]), str(rows[0][1]))
        else:
            time.sleep(0.1)
    if held is None:
        raise RuntimeError("no extra worker ran a job within 60 s")
    victim = ours[held[0]]
    victim.kill()  # SIGKILL, its children (ffmpeg) included
    window.lifted = probe.rec.now()
    window.extra.update(killed_pid=victim.pid, job_generation=held[1])
    d.workers.remove(victim)
    d.start_worker()
    probe.recover(window, "conversation", options.recover_timeout)
    # The killed job: rescued once its lease expires, and run to its end by another worker.
    deadline = time.monotonic() + options.recover_timeout + LEASE_SECONDS
    while time.monotonic() < deadline:
        [(status, attempts)] = d.sql("SELECT status, attempts FROM generations WHERE id = %s", (held[1],))
        if status in TERMINAL:
            window.extra.update(job_final_after_s=round(probe.rec.now() - window.lifted, 2),
                                job_status=status, job_attempts=attempts)
            return
        time.sleep(0.2)
    window.notes.append("the killed worker's job did not end")


def disk_full(d: Deployment, probe: Probe, window: Window, options: Options) -> None:
    if not d.tmpfs:
        window.notes.append("skipped: needs root for a tmpfs of limited size")
        window.lifted = window.recovered = probe.rec.now()
        return
    ballast = d.storage / "ballast"
    with ballast.open("wb") as out:
        with contextlib.suppress(OSError):
            os.posix_fallocate(out.fileno(), 0, os.statvfs(d.storage).f_bavail * os.statvfs(d.storage).f_frsize)
        block = b"\0" * 65536
        with contextlib.suppress(OSError):  # ENOSPC: full to the last byte
            while True:
                out.write(block)
                out.flush()
    window.extra["free_bytes_when_full"] = os.statvfs(d.storage).f_bavail * os.statvfs(d.storage).f_frsize
    _sleep_until(probe.rec, window.start + options.window / 2)
    ballast.unlink()
    window.lifted = probe.rec.now()
    probe.recover(window, "upload", options.recover_timeout)


INJECT: dict[str, Callable[[Deployment, Probe, Window, Options], None]] = {
    "postgres_restart": postgres_restart, "api_kill": api_kill, "worker_kill": worker_kill, "disk_full": disk_full}


# --------------------------------------------------------------------------- the checks


def settle(d: Deployment, recorder: Recorder, timeout: float) -> float:
    """Waits until every accepted generation ended; the seconds it took."""
    ids = [w.id for w in recorder.writes if w.kind == "generation"]
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            [(open_,)] = d.sql("SELECT count(*) FROM generations WHERE id = ANY(%s::uuid[])"
                               " AND status NOT IN ('succeeded', 'failed', 'canceled')", (ids,))
        except psycopg.OperationalError:
            open_ = -1
        if open_ == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - began


def verify(d: Deployment, recorder: Recorder) -> dict[str, dict[str, list[str]]]:
    """Per write kind: the acknowledged writes `lost`, `duplicated`, and for generations
    the ones `stuck` (not in a final state, or a job still running or leased); plus the
    `unacknowledged` writes found in the database (committed, the answer lost: allowed)."""
    by_kind: dict[str, list[Write]] = {}
    for w in recorder.writes:
        by_kind.setdefault(w.kind, []).append(w)
    out: dict[str, dict[str, list[str]]] = {}

    def check(kind: str, found: dict[str, int]) -> None:
        writes = by_kind.get(kind, [])
        out[kind] = {"acknowledged": [w.id for w in writes],
                     "lost": [w.id for w in writes if found.get(w.id, 0) == 0],
                     "duplicated": [w.id for w in writes if found.get(w.id, 0) > 1]}

    def ids(kind: str) -> list[str]:
        return [w.id for w in by_kind.get(kind, [])]

    # Sessions: the token's hash, stored once.
    hashes = [bytes.fromhex(h) for h in ids("session")]
    check("session", {bytes(h).hex(): n for h, n in d.sql(
        "SELECT token_hash, count(*) FROM sessions WHERE token_hash = ANY(%s) GROUP BY 1", (hashes,))})
    # Conversations and messages: their marker, once (a retried insert would make a second row).
    def by_marker(kind: str, query: str) -> None:
        marks = {w.marker: w.id for w in by_kind.get(kind, [])}
        rows = d.sql(query, (list(marks),))
        check(kind, {marks[m]: (n if marks[m] in found else 0) for m, n, found in rows})

    by_marker("conversation", "SELECT title, count(*), array_agg(id::text) FROM conversations"
                              " WHERE title = ANY(%s) GROUP BY 1")
    for kind in ("message", "question"):
        by_marker(kind, "SELECT content, count(*), array_agg(id::text) FROM messages WHERE role = 'user'"
                        " AND content = ANY(%s) GROUP BY 1")
    # Answers: the acknowledged answer is there, and its question has one answer only.
    questions = {w.marker: w.id for w in by_kind.get("answer", [])}  # question id -> answer id
    rows = d.sql("SELECT parent_id::text, count(*), bool_or(id = ANY(%s::uuid[])) FROM messages"
                 " WHERE role = 'assistant' AND parent_id = ANY(%s::uuid[]) GROUP BY 1",
                 (ids("answer"), list(questions)))
    check("answer", {questions[p]: n if seen else 0 for p, n, seen in rows})
    # Uploads: the row with the checksum the client computed, once.
    shas = {w.id: w.sha256 for w in by_kind.get("upload", [])}
    rows = d.sql("SELECT id::text, checksum_sha256 FROM media_objects WHERE id = ANY(%s::uuid[])", (list(shas),))
    check("upload", dict(Counter(i for i, sha in rows if shas[i] == sha)))
    # Generations: one row per prompt, and one end: a final status, its job finished and
    # not leased, at most one success event, one result file and one usage row per success.
    gens = by_kind.get("generation", [])
    rows = d.sql("""
        SELECT g.id::text, g.status, (SELECT count(*) FROM generations o WHERE o.prompt = g.prompt),
               (SELECT count(*) FROM media_objects m WHERE m.generation_id = g.id),
               (SELECT count(*) FROM generation_events e WHERE e.generation_id = g.id AND e.status = 'succeeded'),
               (SELECT count(*) FROM api_usage u WHERE u.generation_id = g.id),
               j.status, j.lease_expires_at IS NOT NULL, g.attempts
          FROM generations g LEFT JOIN jobs j ON j.generation_id = g.id
         WHERE g.id = ANY(%s::uuid[])""", ([w.id for w in gens],))
    found: dict[str, int] = {}
    dups: set[str] = set()
    stuck: set[str] = set()
    statuses: Counter[str] = Counter()
    for gid, status, same_prompt, media, successes, usage, job_status, leased, attempts in rows:
        found[gid] = 1
        statuses[status] += 1
        if attempts > 1:
            statuses["run more than once (rescued or retried)"] += 1
        ended_once = status != "succeeded" or (media == 1 and successes == 1 and usage == 1)
        if same_prompt > 1 or successes > 1 or media > 1 or usage > 1 or not ended_once:
            dups.add(gid)
        if status not in TERMINAL or job_status not in TERMINAL or leased:
            stuck.add(gid)
    out["generation"] = {"acknowledged": [w.id for w in gens], "lost": [w.id for w in gens if w.id not in found],
                         "duplicated": sorted(dups), "stuck": sorted(stuck),
                         "statuses": [f"{s}: {n}" for s, n in sorted(statuses.items())]}
    # Anything the queue still holds.
    out["queue"] = {"running_or_leased": [str(r[0]) for r in d.sql(
        "SELECT id FROM jobs WHERE status = 'running' OR lease_expires_at IS NOT NULL")]}
    out["unacknowledged_present"] = {"conversations": [str(n) for (n,) in d.sql(
        "SELECT count(*) FROM conversations WHERE title LIKE 'fault-%%' AND NOT (id = ANY(%s::uuid[]))",
        (ids("conversation"),))]}
    return out


def verify_downloads(d: Deployment, load: Load, recorder: Recorder) -> dict[str, list[str]]:
    """Every acknowledged upload and every succeeded generation's file, through the API."""
    bad: list[str] = []
    checked = 0
    for user in load.users:
        mine = [w for w in recorder.writes if w.user == user.index]
        with httpx.Client(base_url=d.url, timeout=30, cookies=user.client.cookies) as client:
            for w in mine:
                if w.kind != "upload":
                    continue
                response = client.get(f"/v1/media/{w.id}")
                checked += 1
                if response.status_code != 200 or hashlib.sha256(response.content).hexdigest() != w.sha256:
                    bad.append(f"upload {w.id}: {response.status_code}")
            for w in mine:
                if w.kind != "generation":
                    continue
                body = client.get(f"/v1/generations/{w.id}").json()
                if body.get("status") != "succeeded":
                    continue
                for media in body["result"]["media"]:
                    response = client.get(media["url"])
                    checked += 1
                    if response.status_code != 200 or len(response.content) != media["size"]:
                        bad.append(f"generation {w.id} file {media['id']}: {response.status_code}")
    return {"checked": [str(checked)], "bad": bad}


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    options: dict[str, Any]
    windows: list[dict[str, Any]]
    checks: dict[str, Any]
    downloads: dict[str, list[str]]
    totals: dict[str, Any]
    seconds: float

    @property
    def lost(self) -> int:
        return sum(len(v.get("lost", [])) for k, v in self.checks.items() if isinstance(v, dict))

    @property
    def duplicated(self) -> int:
        return sum(len(v.get("duplicated", [])) for k, v in self.checks.items() if isinstance(v, dict))

    @property
    def stuck(self) -> int:
        return len(self.checks["generation"]["stuck"]) + len(self.checks["queue"]["running_or_leased"])

    @property
    def recovered(self) -> bool:
        return all(w["recovered_after_s"] is not None for w in self.windows if w["fault"] != "baseline")


def run(lab: Lab, options: Options, log: Callable[[str], None] = lambda _: None) -> Result:
    """Starts the deployment, runs the load with the faults, checks, stops everything it started."""
    began = time.monotonic()
    fake = FakeOpenAI()
    fake.start()
    try:
        with storage_dir(lab, options.storage_mb) as (storage, tmpfs):
            try:
                return _run(lab, fake, storage, tmpfs, options, log, began)
            finally:
                # Stopped before the tmpfs goes (the Lab stops whatever is left after a failure).
                for proc in lab.procs:
                    if proc.proc.poll() is None:
                        proc.terminate(grace=60)
    finally:
        fake.stop()


def _run(lab: Lab, fake: FakeOpenAI, storage: Path, tmpfs: bool, options: Options,
         log: Callable[[str], None], began: float) -> Result:
    log("starting `studio up`" + (f" (storage on a {options.storage_mb} MB tmpfs)" if tmpfs else ""))
    d = start(lab, fake, storage, tmpfs, options)
    with d.studio.admin_http() as admin:
        models = {m["slug"]: m["id"] for m in admin.get("/v1/models").json()["items"]}
    models = {"chat": d.studio.ensure_chat_model(), "audio": models["espeak-en"], "video": models["ffmpeg-video"]}
    recorder = Recorder()
    load = Load(d, options, recorder, models)
    load.start()
    probe = Probe(d, recorder, models)
    windows = [Window("baseline", recorder.now())]
    try:
        log(f"load: {options.users} users; baseline {options.baseline:.0f} s")
        _sleep_until(recorder, windows[0].start + options.baseline)
        for fault in options.faults:
            windows[-1].end = recorder.now()
            window = Window(fault, recorder.now())
            windows.append(window)
            log(f"fault: {FAULT_NAMES[fault]}")
            INJECT[fault](d, probe, window, options)
            _sleep_until(recorder, window.start + options.window)
            if recorder.now() > window.start + options.window + 1:
                window.notes.append(f"took {recorder.now() - window.start:.0f} s (window {options.window:.0f} s)")
    finally:
        load.join()
        windows[-1].end = recorder.now()
        probe.close()
    log("load stopped; waiting for every accepted generation to end")
    settle_s = settle(d, recorder, options.settle_timeout)
    checks = verify(d, recorder)
    downloads = verify_downloads(d, load, recorder)
    processes = {"studio up": d.studio.proc.proc.poll(), "workers": [w.proc.poll() for w in d.workers]}
    logged = server_log_errors(d.home / "logs" / "studio.log")
    return Result(options=asdict(options), windows=[_window_figures(w, recorder, checks) for w in windows],
                  checks=checks, downloads=downloads,
                  totals={"requests": len(recorder.calls), "writes": len(recorder.writes),
                          "corrupt_downloads": list(recorder.corrupt), "settle_s": round(settle_s, 1),
                          "exit_codes_while_running": processes, "log_errors": logged,
                          "by_kind": dict(Counter(w.kind for w in recorder.writes))},
                  seconds=time.monotonic() - began)


def server_log_errors(path: Path) -> dict[str, int]:
    """The error lines of every process's log (`studio up` appends them all to one file):
    (logger: message, exception type) -> count. What became a 503 is logged as a warning."""
    found: Counter[str] = Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "critical"):
            exc = str(entry.get("exception") or entry.get("exc_info") or "")
            last = exc.strip().splitlines()[-1][:160] if exc.strip() else ""
            message = UUID_TEXT.sub("<id>", str(entry.get("message")))[:120]
            found[f"{entry.get('logger')}: {message}" + (f" [{last}]" if last else "")] += 1
    return dict(found.most_common())


def _window_figures(window: Window, recorder: Recorder, checks: dict[str, Any]) -> dict[str, Any]:
    calls = [c for c in recorder.calls if window.start <= c.start < window.end]
    failed = [c for c in calls if c.status is None or c.status >= 400 or c.error]
    statuses = Counter(_outcome(c) for c in failed)
    by_kind = Counter(f"{c.kind} {_outcome(c)}" for c in failed)
    in_window = {w.id for w in recorder.writes if window.start <= w.at < window.end}
    lost = sum(len(set(v.get("lost", [])) & in_window) for v in checks.values() if isinstance(v, dict))
    dups = sum(len(set(v.get("duplicated", [])) & in_window) for v in checks.values() if isinstance(v, dict))
    stuck = len(set(checks["generation"]["stuck"]) & in_window)
    return {"fault": window.fault, "start_s": round(window.start, 1), "end_s": round(window.end, 1),
            "requests": len(calls), "ok": sum(1 for c in calls if c.status is not None and c.status < 400
                                              and not c.error),
            "errors": dict(sorted(statuses.items())), "errors_by_kind": dict(sorted(by_kind.items())),
            "acknowledged_writes": len(in_window),
            "recovered_after_s": (round(window.recovered - window.lifted, 2)
                                  if window.recovered is not None and window.lifted is not None else None),
            "fault_lasted_s": round(window.lifted - window.start, 2) if window.lifted is not None else None,
            "lost": lost, "duplicated": dups, "stuck": stuck, "notes": window.notes, "extra": window.extra}


def _outcome(call: Call) -> str:
    """A failed call's status, or what went wrong without one (or in a 200 stream)."""
    if call.status is None:
        return call.error or "no answer"
    return f"{call.status} ({call.error})" if call.error else str(call.status)
