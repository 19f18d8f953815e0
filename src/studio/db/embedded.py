"""Studio's own PostgreSQL cluster, used when no external database is configured.

The cluster lives in ``$STUDIO_HOME/pg`` and is driven with the stock server tools
(``initdb``, ``pg_ctl``), so an operator can inspect or repair it with the usual
commands. PostgreSQL refuses to run as root; when Studio runs as root every
server-side command runs as the ``postgres`` OS user, and everything the server
touches must therefore be reachable by that user. When ``$STUDIO_HOME`` is not (a
clone under ``/root``, say), the cluster is placed under ``/var/lib/studio/clusters``
and ``$STUDIO_HOME/pg`` becomes a symlink to it, rather than loosening the
permissions of the user's own directories.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import math
import os
import pwd
import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from psycopg.conninfo import make_conninfo

__all__ = ["EmbeddedCluster", "EmbeddedError", "PostgresNotFound", "find_pg_bindir"]

log = logging.getLogger(__name__)

# Where packagers put the server binaries, which are often not on PATH (Debian keeps
# them in a versioned directory so several majors can coexist).
DEFAULT_SEARCH_GLOBS: tuple[str, ...] = (
    "/usr/lib/postgresql/*/bin",
    "/usr/local/opt/postgresql*/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/pgsql/bin",
)
_REQUIRED_TOOLS = ("initdb", "pg_ctl", "postgres")
# Older majors still work for the basics, but Studio relies on 13+ behaviour, so a
# newer installation wins even if an older one comes first on PATH.
_PREFERRED_MAJOR = 13

# Home for clusters whose $STUDIO_HOME the server user cannot enter.
RELOCATED_ROOT = Path("/var/lib/studio/clusters")
SUPERUSER = "postgres"
# sun_path holds ~107 bytes; stay clearly below to leave room for the lock file name.
_MAX_SOCKET_PATH = 100
_LOG_TAIL_LINES = 20
_GUC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_STOP_MODES = ("smart", "fast", "immediate")
_SHMEM_IN_USE = "pre-existing shared memory block"


class PostgresNotFound(RuntimeError):
    """The PostgreSQL server binaries are not installed (or not where we look)."""


class EmbeddedError(RuntimeError):
    """The embedded cluster could not be initialised, started or stopped."""


# --------------------------------------------------------------------------- binaries


def _version_key(text: str) -> tuple[int, ...]:
    """Numeric key so that 16 > 15 > 9.6 (a string sort would put 9.6 first)."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2]) or (0,)


def _version_from_path(bindir: Path) -> tuple[int, ...] | None:
    # /usr/lib/postgresql/15/bin, /opt/homebrew/opt/postgresql@15/bin
    for part in reversed(bindir.parts):
        match = re.fullmatch(r"(?:postgresql@?)?(\d+(?:\.\d+)?)", part)
        if match:
            return _version_key(match.group(1))
    return None


def _version_from_binary(bindir: Path) -> tuple[int, ...]:
    """Ask pg_ctl itself; used for PATH entries and unversioned directories."""
    try:
        out = subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    match = re.search(r"(\d+(?:\.\d+)?)", out)
    return _version_key(match.group(1)) if match else (0,)


def _has_server_tools(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) and (directory / tool).is_file()
               for tool in _REQUIRED_TOOLS)


def _not_found_message(globs: Sequence[str]) -> str:
    where = "PATH" + (" or " + ", ".join(globs) if globs else "")
    return (f"PostgreSQL server binaries ({', '.join(_REQUIRED_TOOLS)}) not found in {where}: "
            "install the server, e.g. `apt-get install postgresql` (Debian/Ubuntu) "
            "or `brew install postgresql@15` (macOS)")


def find_pg_bindir(search_path: str | None = None, extra_dirs: Sequence[str] | None = None) -> Path:
    """Locate a directory holding initdb, pg_ctl and postgres.

    PATH comes first so an operator can choose a build explicitly; the usual package
    locations (glob patterns, newest version first) follow. A major version >= 13 is
    preferred over whatever comes first. ``search_path``/``extra_dirs`` default to
    ``$PATH`` and the usual locations; tests pass empty ones.
    """
    path = os.environ.get("PATH", os.defpath) if search_path is None else search_path
    patterns = list(DEFAULT_SEARCH_GLOBS if extra_dirs is None else extra_dirs)

    candidates: list[Path] = []
    for entry in path.split(os.pathsep):
        # An empty PATH entry means the current directory; never pick binaries from there.
        if entry and Path(entry).is_absolute():
            candidates.append(Path(entry))
    for pattern in patterns:
        found = [Path(p) for p in glob.glob(pattern)]
        found.sort(key=lambda p: _version_from_path(p) or (0,), reverse=True)
        candidates.extend(found)

    seen: set[Path] = set()
    usable: list[Path] = []
    for candidate in candidates:
        real = candidate.resolve()
        if real not in seen and _has_server_tools(candidate):
            seen.add(real)
            usable.append(candidate)
    if not usable:
        raise PostgresNotFound(_not_found_message(patterns))
    for candidate in usable:
        version = _version_from_path(candidate) or _version_from_binary(candidate)
        if version[0] >= _PREFERRED_MAJOR:
            return candidate
    return usable[0]


# --------------------------------------------------------------------------- helpers


def _is_zombie(pid: int) -> bool:
    """A killed postmaster stays a zombie when PID 1 does not reap orphans (common in
    containers); kill(pid, 0) still succeeds then, which fools both pg_ctl and the
    postmaster's own stale-lock check."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name in parentheses, which may itself contain ')'.
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] == "Z"


def _conf_quote(value: str) -> str:
    """postgresql.conf string literal; quoting everything is valid for every GUC type."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"setting values cannot contain newlines: {value!r}")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _list_item(path: Path) -> str:
    """One entry of a GUC list; commas or quotes in a path would otherwise split it."""
    text = str(path)
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of a server's log, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_since(path: Path, offset: int) -> str:
    """What a server wrote to its log after `offset` (a log_size() taken before)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- cluster


@dataclass
class EmbeddedCluster:
    """A PostgreSQL cluster owned by one Studio home."""

    home: Path
    port: int = 5432
    listen_tcp: bool = False
    bindir: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)

    _pg_dir: Path | None = field(default=None, init=False, repr=False, compare=False)
    _started_here: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser()
        if self.bindir is not None:
            self.bindir = Path(self.bindir)
        for name in self.settings:
            if not _GUC_NAME.match(name):
                raise ValueError(f"invalid setting name: {name!r}")

    # ------------------------------------------------------------------ locations

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def server_user(self) -> str:
        if self._as_root:
            return "postgres"
        try:
            return pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:  # uid without a passwd entry (some containers)
            return str(os.geteuid())

    @property
    def _link(self) -> Path:
        return self.home / "pg"

    @property
    def _relocated_dir(self) -> Path:
        digest = hashlib.sha256(os.fsencode(self.home.resolve())).hexdigest()
        return RELOCATED_ROOT / digest[:16]

    @property
    def pg_dir(self) -> Path:
        """Real (symlink-free) cluster directory, so every path handed to the server is
        one the server user can actually traverse."""
        if self._pg_dir is None:
            if os.path.lexists(self._link):
                self._pg_dir = self._link.resolve()
            elif self._as_root and not self._server_can_enter(self._nearest_existing(self.home)):
                self._pg_dir = self._relocated_dir
            else:
                self._pg_dir = self.home.resolve() / "pg"
        return self._pg_dir

    @property
    def data_dir(self) -> Path:
        return self.pg_dir / "data"

    @property
    def socket_dir(self) -> Path:
        preferred = self.pg_dir / "run"
        if len(str(preferred / f".s.PGSQL.{self.port}")) <= _MAX_SOCKET_PATH:
            return preferred
        # Derived from the data directory so every process (server, API, CLI) agrees.
        digest = hashlib.sha256(os.fsencode(self.data_dir)).hexdigest()
        return Path("/tmp") / f"studio-{digest[:12]}"

    @property
    def log_file(self) -> Path:
        return self.pg_dir / "log" / "postgres.log"

    # ------------------------------------------------------------------ processes

    def _server_ids(self) -> tuple[int, int, list[int]]:
        entry = pwd.getpwnam(self.server_user)
        return entry.pw_uid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid)

    def run_as_server(self, args: Sequence[str | os.PathLike[str]], *, timeout: float,
                      cwd: str | os.PathLike[str] | None = None,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command as the server user, as the server's own tools must run (pg_ctl,
        pgBackRest): it owns the data directory. `env` adds variables (PGPASSWORD)."""
        return self._run(args, timeout=timeout, cwd=cwd, extra_env=env)

    def private_dir(self, path: Path) -> None:
        """A directory (and its missing parents up to an existing one) only the server
        user may use."""
        self._private_dir(path)

    def write_private_file(self, path: Path, text: str) -> None:
        """Atomically written, mode 0600, owned by the server user."""
        self._write_file(path, text)

    def spawn_as_server(self, args: Sequence[str | os.PathLike[str]], *,
                        cwd: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running process as the server user (PgBouncer refuses root too);
        its output goes to its own log file, so none is captured here."""
        return subprocess.Popen([os.fspath(a) for a in args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=cwd or "/", **self._server_process_options())

    def _server_process_options(self, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        """Environment and identity of a process run as the server user."""
        # PG* variables (PGDATA, PGPORT, ...) from the caller's shell would silently
        # override what we pass; English messages keep our error texts readable.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PG") and k not in ("LC_ALL", "LANGUAGE")}
        env["LC_MESSAGES"] = "C"
        env.update(extra_env or {})
        options: dict[str, Any] = {"env": env}
        if self._as_root:
            uid, gid, groups = self._server_ids()
            # extra_groups drops root's supplementary groups (group 0) from the server.
            options.update(user=uid, group=gid, extra_groups=groups)
            env["HOME"] = pwd.getpwuid(uid).pw_dir
            env["USER"] = env["LOGNAME"] = self.server_user
        return options

    def _run(self, args: Sequence[str | os.PathLike[str]], *, timeout: float,
             cwd: str | os.PathLike[str] | None = None,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command as the server user (PostgreSQL refuses root)."""
        try:
            return subprocess.run([os.fspath(a) for a in args], capture_output=True, text=True,
                                  cwd=cwd or "/", timeout=timeout, check=False,
                                  **self._server_process_options(extra_env))
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedError(f"{Path(os.fspath(args[0])).name} did not finish within "
                                f"{timeout:.0f}s") from exc

    def _tool(self, name: str) -> Path:
        if self.bindir is None:
            self.bindir = find_pg_bindir()
        return self.bindir / name

    def _server_can_enter(self, path: Path) -> bool:
        """One `test -x` as the server user: access() walks every ancestor with that
        user's credentials, ACLs included, which an os.stat walk would get wrong."""
        if not self._as_root:
            return True
        uid, gid, groups = self._server_ids()
        try:
            result = subprocess.run(["test", "-x", str(path)], user=uid, group=gid,
                                    extra_groups=groups, cwd="/", capture_output=True,
                                    timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0

    @staticmethod
    def _nearest_existing(path: Path) -> Path:
        path = path.resolve()
        while not path.exists() and path != path.parent:
            path = path.parent
        return path

    def _failure(self, what: str, result: subprocess.CompletedProcess[str], log_file: Path | None) -> str:
        output = (result.stdout + result.stderr).strip()
        message = f"{what} failed (exit {result.returncode})"
        if output:
            message += ":\n" + "\n".join(output.splitlines()[-_LOG_TAIL_LINES:])
        if log_file is not None:
            message += f"\n--- last lines of {log_file} ---\n{log_tail(log_file)}"
        return message

    # ------------------------------------------------------------------ files

    def _own(self, path: Path, mode: int) -> None:
        if self._as_root:
            uid, gid, _ = self._server_ids()
            os.chown(path, uid, gid, follow_symlinks=False)
        os.chmod(path, mode)

    def _private_dir(self, path: Path) -> None:
        """A directory only the server user may use (the server checks some of them)."""
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._own(path, 0o700)

    def _shared_tmp_dir(self, path: Path) -> None:
        """The short socket directory lives in world-writable /tmp, where someone else
        could have planted it first: accept it only if it is really ours."""
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        st = path.lstat()
        ours = {os.geteuid(), self._server_ids()[0]} if self._as_root else {os.geteuid()}
        if path.is_symlink() or not path.is_dir() or st.st_uid not in ours:
            raise EmbeddedError(f"{path} exists and is not a directory owned by "
                                f"{self.server_user}; remove it and retry")
        self._own(path, 0o700)

    def _write_file(self, path: Path, text: str) -> None:
        """Atomic replace, so a crash never leaves a half-written config behind."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            self._own(Path(tmp), 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _ensure_pg_dir(self) -> Path:
        """Create the cluster directory, relocating it if the server user cannot reach
        $STUDIO_HOME. An existing home/pg (directory or link) is reused as is."""
        self.home.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(self._link):
            self._pg_dir = None  # re-resolve: another process may have created it
            pg_dir = self.pg_dir
            if not pg_dir.exists():  # dangling link, e.g. /var/lib/studio was wiped
                self._make_parents(pg_dir.parent)
                self._private_dir(pg_dir)
            if not self._server_can_enter(pg_dir):
                raise EmbeddedError(
                    f"{pg_dir} is not reachable by the {self.server_user} OS user; "
                    f"remove {self._link} so Studio can place the cluster elsewhere")
            return pg_dir

        if self._as_root and not self._server_can_enter(self.home):
            target = self._relocated_dir
            self._make_parents(target.parent)
            self._private_dir(target)
            self._link.symlink_to(target, target_is_directory=True)
            log.warning("%s is not reachable by the %s OS user; the cluster lives in %s "
                        "(linked from %s)", self.home, self.server_user, target, self._link)
        else:
            self._private_dir(self._link)
        self._pg_dir = None
        return self.pg_dir

    @staticmethod
    def _make_parents(path: Path) -> None:
        # Only directories created here get 0755; a strict umask would otherwise make
        # them unreachable for the server user, defeating the relocation.
        missing: list[Path] = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for directory in reversed(missing):
            directory.mkdir(exist_ok=True)
            os.chmod(directory, 0o755)

    def _listen_addresses(self) -> str:
        return "127.0.0.1" if self.listen_tcp else ""

    def _write_config(self) -> None:
        """Studio's settings go into an included file, rewritten at every start so a
        moved home or a changed port/listen_tcp/settings applies without re-init.
        ALTER SYSTEM (postgresql.auto.conf) still overrides it, except for the
        connection settings, which start() also passes on the command line."""
        conf = self.data_dir / "postgresql.conf"
        include = "include_dir = 'conf.d'"
        text = conf.read_text()
        if include not in text.splitlines():
            self._write_file(conf, text.rstrip("\n") + f"\n\n# Managed by Studio\n{include}\n")
        self._private_dir(self.data_dir / "conf.d")

        values = {
            "listen_addresses": _conf_quote(self._listen_addresses()),
            "port": str(self.port),
            "unix_socket_directories": _conf_quote(_list_item(self.socket_dir)),
            "unix_socket_permissions": "0700",
            "shared_preload_libraries": _conf_quote("pg_stat_statements"),
            "password_encryption": _conf_quote("scram-sha-256"),
            # The job queue's first burst on a never-analyzed table is planned as a
            # bitmap scan plus sort (~40 ms a claim at 50k queued jobs, against <1 ms
            # through the claim index): autoanalyze fixes it at its next round, so the
            # rounds come every 10 s rather than every minute (bench/results/queue.md).
            "autovacuum_naptime": _conf_quote("10s"),
            # Slow statements in the server log, with the request id the API puts into
            # application_name (%a), so each leads back to its request (F7).
            "log_min_duration_statement": _conf_quote("250ms"),
            "log_line_prefix": _conf_quote("%m [%p] %q%u@%d %a: "),
            "log_lock_waits": "on",
        }
        values.update({name: _conf_quote(value) for name, value in self.settings.items()})
        body = "".join(f"{name} = {value}\n" for name, value in values.items())
        self._write_file(self.data_dir / "conf.d" / "studio.conf",
                         "# Written by Studio at every start; edits here are overwritten.\n" + body)

        # Passwords for everyone, and TCP only from loopback when asked for.
        hba = "local all all scram-sha-256\n"
        if self.listen_tcp:
            hba += "host all all 127.0.0.1/32 scram-sha-256\n"
        self._write_file(self.data_dir / "pg_hba.conf",
                         "# Written by Studio at every start; edits here are overwritten.\n" + hba)

    # ------------------------------------------------------------------ lifecycle

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self, superuser_password: str) -> None:
        """Create the cluster with superuser ``postgres`` and password authentication only."""
        if not superuser_password or any(c in superuser_password for c in "\r\n"):
            # initdb reads only the first line of the password file.
            raise ValueError("the superuser password must be one non-empty line")
        if self.is_initialized():
            raise EmbeddedError(f"a cluster already exists in {self.data_dir}")
        pg_dir = self._ensure_pg_dir()

        # The password goes through a file (not argv, which other users can read),
        # inside the private cluster directory, readable by the server user only.
        fd, pwfile = tempfile.mkstemp(dir=pg_dir, prefix=".pwfile-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(superuser_password + "\n")
            self._own(Path(pwfile), 0o600)
            base: list[str | os.PathLike[str]] = [self._tool("initdb"), "-D", self.data_dir, "-U", SUPERUSER,
                    "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}", "--encoding=UTF8", "--data-checksums"]
            result = self._run([*base, "--locale=C.UTF-8"], timeout=300, cwd=pg_dir)
            if result.returncode != 0 and "locale" in (result.stdout + result.stderr).lower() \
                    and not self.data_dir.exists():
                # initdb checks the locale before creating anything, so a retry is clean.
                result = self._run([*base, "--no-locale"], timeout=300, cwd=pg_dir)
        finally:
            Path(pwfile).unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedError(self._failure("initdb", result, None))
        self._write_config()

    def _lock_pid(self, lock_file: Path | None = None) -> int | None:
        """PID on the first line of postmaster.pid (or of a socket's .lock file)."""
        try:
            first = (lock_file or self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first)
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        if not self.is_initialized():
            return False
        result = self._run([self._tool("pg_ctl"), "status", "-D", self.data_dir], timeout=30)
        if result.returncode != 0:
            return False
        pid = self._lock_pid()
        return pid is None or not _is_zombie(pid)

    def _clear_zombie_locks(self) -> None:
        """pg_ctl and the postmaster handle lock files whose PID is gone, but not ones
        whose PID is an unreaped zombie (a kill -9 under a PID 1 that does not reap).
        Removing them is safe: the new postmaster still refuses to start while old
        backends hold the shared memory segment."""
        for lock in (self.data_dir / "postmaster.pid",
                     self.socket_dir / f".s.PGSQL.{self.port}.lock"):
            pid = self._lock_pid(lock)
            if pid is not None and _is_zombie(pid):
                log.info("removing stale %s (postmaster %d is dead)", lock, pid)
                lock.unlink(missing_ok=True)

    def start(self, timeout: float = 60) -> None:
        if not self.is_initialized():
            raise EmbeddedError(f"no cluster in {self.data_dir}; call init() first")
        self._ensure_pg_dir()
        if self.is_running():
            return
        self._clear_zombie_locks()
        self._private_dir(self.log_file.parent)
        if self.socket_dir.parent == self.pg_dir:
            self._private_dir(self.socket_dir)
        else:
            self._shared_tmp_dir(self.socket_dir)
        self._write_config()

        # Command-line options beat postgresql.auto.conf, so where the server listens
        # always matches this object (and thus where clients will look for it). pg_ctl
        # hands -o to /bin/sh, hence the shell quoting.
        options = shlex.join([
            "-c", f"listen_addresses={self._listen_addresses()}",
            "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={_list_item(self.socket_dir)}",
        ])
        deadline = time.monotonic() + timeout
        while True:
            log_offset = log_size(self.log_file)
            seconds = max(1, math.ceil(deadline - time.monotonic()))
            result = self._run([self._tool("pg_ctl"), "start", "-D", self.data_dir,
                                "-l", self.log_file, "-w", "-t", str(seconds), "-o", options],
                               timeout=seconds + 30, cwd=self.pg_dir)
            if result.returncode == 0:
                return
            if self.is_running():
                # pg_ctl gave up after -t but left a slow postmaster running: don't orphan it.
                self._run([self._tool("pg_ctl"), "stop", "-D", self.data_dir, "-m", "immediate", "-w"],
                          timeout=60)
            elif _SHMEM_IN_USE in log_since(self.log_file, log_offset) and time.monotonic() < deadline:
                # Right after a crash, the dead postmaster's backends may still be
                # exiting; the new one refuses to start until they are gone.
                time.sleep(0.5)
                continue
            raise EmbeddedError(self._failure("pg_ctl start", result, self.log_file))

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        if mode not in _STOP_MODES:
            raise ValueError(f"stop mode must be one of {', '.join(_STOP_MODES)}")
        if not self.is_running():
            return
        seconds = max(1, math.ceil(timeout))
        result = self._run([self._tool("pg_ctl"), "stop", "-D", self.data_dir, "-m", mode,
                            "-w", "-t", str(seconds)], timeout=seconds + 30, cwd=self.pg_dir)
        if result.returncode != 0:
            raise EmbeddedError(self._failure("pg_ctl stop", result, self.log_file))

    def conninfo(self, user: str, password: str, dbname: str = "postgres") -> str:
        """Always the Unix socket: it needs no network exposure and works with
        listen_tcp off."""
        return make_conninfo(host=str(self.socket_dir), port=str(self.port), user=user,
                             password=password, dbname=dbname)

    def __enter__(self) -> EmbeddedCluster:
        if not self.is_running():
            self.start()
            self._started_here = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Leave a server someone else started (the CLI, another process) running.
        if self._started_here:
            self._started_here = False
            self.stop()

