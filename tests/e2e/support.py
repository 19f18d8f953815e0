"""Helpers of the e2e tier: real `studio` processes in subprocesses, spoken to over HTTP on 127.0.0.1.

Every test gets a `Lab` that hands out temporary STUDIO_HOMEs, starts `studio ...`
commands with a clean environment (no inherited STUDIO_* or PG* variables, no `.env`
picked up from the working directory) and, whatever happens, cleans up after them:
processes still running get SIGTERM, then SIGKILL after a grace period; the embedded
PostgreSQL of every home is stopped (`-m immediate`) if it still runs; homes, relocated
clusters under /var/lib/studio/clusters and /tmp socket directories are removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from studio.db.embedded import (
    RELOCATED_ROOT,
    EmbeddedCluster,
    PostgresNotFound,
    find_pg_bindir,
)
from tests.conftest import free_port  # noqa: F401 - e2e tests import it from here

STUDIO = (sys.executable, "-m", "studio")
IS_ROOT = os.geteuid() == 0
READY_TIMEOUT = 90.0  # first start includes initdb and every migration
STOP_GRACE = 30.0  # SIGTERM -> exit; then SIGKILL
COMMAND_TIMEOUT = 120.0  # a one-shot `studio db ...` / `studio user ...` command
PASSWORD = "correct horse battery staple"



def _postgres_missing() -> str | None:
    try:
        find_pg_bindir()
    except PostgresNotFound as exc:  # pragma: no cover - depends on the machine
        return str(exc)
    return None


# Every e2e test runs real `studio` processes on a real PostgreSQL; on a machine
# without the server the message says which package to install.
NO_POSTGRES = _postgres_missing()
needs_postgres = pytest.mark.skipif(NO_POSTGRES is not None, reason=NO_POSTGRES or "")


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def child_env(home: Path | None = None, port: int | None = None, **extra: str) -> dict[str, str]:
    """The caller's environment without any STUDIO_* or PG* variable, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "PG"))}
    env["PYTHONUNBUFFERED"] = "1"
    if home is not None:
        env["STUDIO_HOME"] = str(home)
    if port is not None:
        env["STUDIO_PORT"] = str(port)
    env.update(extra)
    return env


def one_line(text: str) -> str:
    """Rich wraps console output at the terminal width (80 when not a terminal)."""
    return " ".join(text.split())


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie counts as gone: a container's PID 1 may be slow to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def postmaster_pid(cluster: EmbeddedCluster) -> int | None:
    try:
        return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


class StudioProcess:
    """One long-running `studio ...` process with its output in files."""

    def __init__(self, args: Sequence[str], env: dict[str, str], cwd: Path, name: str) -> None:
        self.args = list(args)
        self.stdout_path = cwd / f"{name}.stdout"
        self.stderr_path = cwd / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen([*STUDIO, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (f"`studio {' '.join(self.args)}` (pid {self.pid}, exit {self.proc.poll()})\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-6000:]}")

    def wait_ready(self, port: int, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Poll /readyz until it answers 200; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"studio exited before it was ready:\n{self.describe()}")
                try:
                    response = client.get("/readyz")
                    if response.status_code == 200:
                        return response.json()
                    last = f"{response.status_code} {response.text}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.25)
        pytest.fail(f"/readyz not 200 within {timeout:.0f}s (last: {last}):\n{self.describe()}")

    def wait_output(self, text: str, timeout: float = 30) -> str:
        """The process's output (whitespace-normalised) once it contains `text`."""
        deadline = time.monotonic() + timeout
        while True:
            said = one_line(self.output)
            if text in said:
                return said
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{text!r} never appeared in the output:\n{self.describe()}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM; the exit status, or None if it had to be killed after `grace` seconds."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        code = self.wait_exit(grace)
        if code is None:
            self.kill()
        return code

    def kill(self) -> None:
        """SIGKILL this process and its own children (the API); the postmaster is not one
        (pg_ctl daemonises it), it is stopped through its data directory instead."""
        for pid in [*descendants(self.pid), self.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def force_stop(cluster: EmbeddedCluster) -> None:
    """Stop a cluster left running by a failed test, whatever it takes."""
    try:
        if cluster.is_running():
            cluster.stop(mode="immediate", timeout=30)
    except Exception:
        pid = postmaster_pid(cluster)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def stop_pgbouncer(cluster: EmbeddedCluster) -> None:
    """A PgBouncer that `studio up --pgbouncer` started outlives a killed `studio up`."""
    try:
        pid = int((cluster.pg_dir / "pgbouncer" / "pgbouncer.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return
    try:
        if b"pgbouncer" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


class Lab:
    """Hands out homes, runs `studio` and cleans up after both, whatever happened."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="studio-e2e-"))
        self.base.chmod(0o755)  # the postgres OS user may enter, unless a test says otherwise
        self.homes: list[Path] = []
        self.procs: list[StudioProcess] = []
        self._preexisting = {p: p.exists() for p in (RELOCATED_ROOT, RELOCATED_ROOT.parent)}
        self._count = 0

    def _name(self, what: str) -> str:
        self._count += 1
        return f"{self._count:02d}-{what}"

    def home(self, *, reachable: bool = True) -> Path:
        """A fresh STUDIO_HOME (not created yet). Unreachable: inside a root-owned 0700
        directory that the postgres OS user cannot enter."""
        parent = self.base / self._name("reachable" if reachable else "private")
        parent.mkdir(mode=0o755 if reachable else 0o700)
        parent.chmod(0o755 if reachable else 0o700)
        home = parent / "home"
        self.homes.append(home)
        return home

    def start(self, args: Sequence[str], env: dict[str, str]) -> StudioProcess:
        proc = StudioProcess(args, env, self.base, self._name(args[0]))
        self.procs.append(proc)
        return proc

    def run(self, args: Sequence[str], env: dict[str, str],
            timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """A one-shot command; killed (and the test failed) if it outlives `timeout`."""
        proc = self.start(args, env)
        code = proc.wait_exit(timeout)
        if code is None:
            proc.kill()
            pytest.fail(f"`studio {' '.join(args)}` did not finish within {timeout:.0f}s:\n{proc.describe()}")
        return subprocess.CompletedProcess(proc.args, code, proc.stdout, proc.stderr)

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.proc.poll() is None:
                proc.terminate(grace=10)
        extra: set[Path] = set()
        for home in self.homes:
            cluster = EmbeddedCluster(home)
            force_stop(cluster)
            stop_pgbouncer(cluster)
            link = home / "pg"
            if link.is_symlink():
                extra.add(link.resolve())
            if cluster._relocated_dir.exists():  # caused by this home, whatever state it is in
                extra.add(cluster._relocated_dir)
            if cluster.socket_dir.parent != cluster.pg_dir:
                extra.add(cluster.socket_dir)
        for path in extra:
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(self.base, ignore_errors=True)
        # /var/lib/studio/clusters and /var/lib/studio go only if we created them and
        # nothing else lives there.
        for path in (RELOCATED_ROOT, RELOCATED_ROOT.parent):
            if not self._preexisting[path] and path.is_dir() and not any(path.iterdir()):
                path.rmdir()


# --------------------------------------------------------------------------- HTTP and SQL helpers


def client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)



def sign_up_and_log_in(client: httpx.Client) -> dict[str, Any]:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.org"
    signup = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body["user"]



def model_id(client: httpx.Client, slug: str) -> str:
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    models = {m["slug"]: m for m in response.json()["items"]}
    assert models[slug]["available"] is True, models[slug]
    return models[slug]["id"]



def create_generation(client: httpx.Client, type_: str, model_id: str, prompt: str, params: dict[str, Any] | None = None) -> dict:
    response = client.post("/v1/generations", json={"type": type_, "model_id": model_id, "prompt": prompt,
                                                    "params": params or {}})
    assert response.status_code == 202, response.text
    return response.json()



def describe(procs: list[StudioProcess]) -> str:
    return "\n".join(p.describe() for p in procs)



def wait_generation(client: httpx.Client, generation_id: str, statuses: set[str], timeout: float,
                     procs: list[StudioProcess]) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/generations/{generation_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in statuses:
            return body
        time.sleep(0.2)
    pytest.fail(f"generation {generation_id} not in {sorted(statuses)} within {timeout:.0f}s "
                f"(last: {body}):\n{describe(procs)}")



def home_secrets(home: Path) -> dict[str, str]:
    values = {}
    for line in (home / "secrets.env").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values



def superuser_sql(home: Path, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One query as the embedded superuser, on a fresh connection (the cluster may have
    been restarted since the last one)."""
    conninfo = EmbeddedCluster(home).conninfo("postgres", home_secrets(home)["STUDIO_SUPERUSER_PASSWORD"], "studio")
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description is not None else []

