"""One `studio up` per home, and where it serves.

- `<home>/studio-up.pid`: the lock. `studio up` holds an exclusive flock on it for its
  whole run and writes its pid into it; a second `studio up` on the same home finds the
  lock taken and refuses. The kernel drops the lock when the process ends, however it
  ends, so a killed `studio up` leaves no stale lock. The file is emptied on a clean
  stop, never removed: removing a locked file would let two processes lock two
  different files of the same name.
- `<home>/run/api.json`: the URL the running instance serves (`{"url", "host",
  "port", "pid"}`), written once the API is started, removed on stop. Commands that talk
  to the running API (`studio audit`, `studio setup-link`) read it, so they find a Studio
  started on any port; they trust it only while the lock is held.
- `<home>/logs/studio.log`: the JSON log lines of `studio up` and the processes it
  starts, unless they are asked onto the terminal (`--log-json`, STUDIO_LOG_STDOUT).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from studio.config import Settings
from studio.launcher.deployment import LauncherError

LOCK_NAME = "studio-up.pid"
API_FILE = Path("run") / "api.json"
LOG_FILE = Path("logs") / "studio.log"


class AlreadyRunning(LauncherError):
    """Another `studio up` holds this home."""


def lock_path(home: Path) -> Path:
    return home / LOCK_NAME


def api_path(home: Path) -> Path:
    return home / API_FILE


def log_path(home: Path) -> Path:
    return home / LOG_FILE


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses: a wildcard address becomes the loopback one."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running_pid(home: Path) -> int | None:
    """The pid of the `studio up` running on this home, None when none is. Decided by the
    lock, not by the pid (a pid left by a killed run may belong to anyone since)."""
    path = lock_path(home)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(path) or -1  # held, pid not written yet
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def published_url(home: Path) -> str | None:
    """The URL the running `studio up` of this home serves, if one runs and said where."""
    if running_pid(home) is None:
        return None
    try:
        info: Any = json.loads(api_path(home).read_text())
        url = info["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def api_url(settings: Settings) -> str:
    """Where the API of this installation answers: the running instance's own word
    (`<home>/run/api.json`), else STUDIO_HOST and STUDIO_PORT."""
    return published_url(settings.home_dir) or local_url(settings.host, settings.port)


@contextlib.contextmanager
def exclusive(home: Path) -> Iterator[None]:
    """Hold this home for one `studio up`, or raise AlreadyRunning saying who holds it."""
    home.mkdir(parents=True, exist_ok=True)
    path = lock_path(home)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(path)
            details = ", ".join(part for part in (f"pid {pid}" if pid else "", published_url(home) or "") if part)
            raise AlreadyRunning(f"Studio is already running on {home}" + (f" ({details})" if details else "")
                                 + "; stop it first (Ctrl+C where it runs" + (f", or kill {pid}" if pid else "")
                                 + ")") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def check_port_free(host: str, port: int) -> None:
    """Refuse to start when the API could not listen: binding here first, as uvicorn
    will (SO_REUSEADDR, so a socket of an earlier run in TIME_WAIT does not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bind_host = host.strip("[]") or ("::" if family == socket.AF_INET6 else "0.0.0.0")
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind_host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LauncherError(f"port {port} on {host} is already in use by another program; stop it, or "
                                    f"start Studio on another port (STUDIO_PORT=...)") from None
            raise LauncherError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def published(home: Path, host: str, port: int) -> Iterator[str]:
    """`<home>/run/api.json` for the block: the URL clients on this machine use."""
    url = local_url(host, port)
    path = api_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"url": url, "host": host, "port": port, "pid": os.getpid()}) + "\n")
    temporary.replace(path)
    try:
        yield url
    finally:
        path.unlink(missing_ok=True)
