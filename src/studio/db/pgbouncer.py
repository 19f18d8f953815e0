"""PgBouncer in front of the embedded cluster (`studio up --pgbouncer`), in transaction
pooling mode (F2): thousands of client connections share a handful of server ones.

What Studio does so that transaction pooling is safe (docs/operations/connection-pooling.md):

* every request or job is one transaction, and its identity (role, claims,
  application_name) is set with `set_config(..., true)`, which ends with it;
* prepared statements are off (psycopg's `prepare_threshold=None`): PgBouncer 1.18 does
  not track them, so a statement prepared on one server connection would be missing,
  or already present, on the next one;
* LISTEN (event streams, worker wake-ups) and the scheduler's session advisory lock use
  direct connections, never the pooler.

PgBouncer authenticates clients with the SCRAM verifiers copied from pg_authid, and
passes the same SCRAM exchange on to the server: no password is written anywhere new.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from studio.db.embedded import EmbeddedCluster, EmbeddedError, log_since, log_size, log_tail

log = logging.getLogger("studio.pgbouncer")

_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin")
_START_SECONDS = 30


class PgBouncerNotFound(EmbeddedError):
    pass


def find_pgbouncer() -> Path:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path=os.pathsep.join(_SEARCH_DIRS))
    if not found:
        raise PgBouncerNotFound("pgbouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer; "
                                "macOS: brew install pgbouncer); `make up` installs it when run as root")
    return Path(found)


def _ini_value(value: str) -> str:
    if any(c in value for c in "\n\r"):
        raise ValueError(f"not a single-line value: {value!r}")
    return value


@dataclass
class PgBouncer:
    """One PgBouncer process for one embedded cluster, configured and run by Studio."""

    cluster: EmbeddedCluster
    port: int
    db_name: str
    pool_size: int = 20
    max_client_conn: int = 2000
    roles: tuple[str, ...] = ()
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def directory(self) -> Path:
        return self.cluster.pg_dir / "pgbouncer"

    @property
    def log_file(self) -> Path:
        return self.directory / "pgbouncer.log"

    @property
    def _pid_file(self) -> Path:
        return self.directory / "pgbouncer.pid"

    @property
    def socket_dir(self) -> Path:
        return self.cluster.socket_dir

    def base_conninfo(self) -> str:
        """Where clients reach PgBouncer (its Unix socket), without credentials."""
        return make_conninfo(host=str(self.socket_dir), port=str(self.port), dbname=self.db_name)

    # ------------------------------------------------------------------ files

    def _auth_file(self, superuser_conninfo: str) -> str:
        """The roles' SCRAM verifiers, exactly as the server stores them: PgBouncer checks
        the client's proof against them and reuses the exchange to log in to the server."""
        with psycopg.connect(superuser_conninfo) as conn:
            rows = conn.execute("SELECT rolname, rolpassword FROM pg_catalog.pg_authid"
                                " WHERE rolname = ANY(%s) AND rolpassword LIKE 'SCRAM-SHA-256$%%'",
                                (list(self.roles),)).fetchall()
        missing = set(self.roles) - {name for name, _ in rows}
        if missing:
            raise EmbeddedError(f"no SCRAM password stored for {', '.join(sorted(missing))}")
        return "".join(f'"{name}" "{verifier}"\n' for name, verifier in rows)

    def _ini(self) -> str:
        cluster = self.cluster
        target = make_conninfo(host=str(cluster.socket_dir), port=str(cluster.port), dbname=self.db_name)
        lines = [
            "; Written by Studio at every start of `studio up --pgbouncer`; edits are overwritten.",
            "[databases]",
            f"{self.db_name} = {_ini_value(target)}",
            "",
            "[pgbouncer]",
            # Transaction pooling: a server connection belongs to a client for one
            # transaction only. Studio keeps no session state (see module docstring).
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            # A hard cap on server connections, whatever the number of users/databases.
            f"max_db_connections = {self.pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            f"max_client_conn = {self.max_client_conn}",
            # Unix socket only, as the cluster itself; TCP on loopback when asked for.
            *(["listen_addr = 127.0.0.1"] if cluster.listen_tcp else []),
            f"listen_port = {self.port}",
            f"unix_socket_dir = {_ini_value(str(self.socket_dir))}",
            "unix_socket_mode = 0700",
            "auth_type = scram-sha-256",
            f"auth_file = {_ini_value(str(self.directory / 'userlist.txt'))}",
            f"logfile = {_ini_value(str(self.log_file))}",
            f"pidfile = {_ini_value(str(self._pid_file))}",
            # A client that waits longer than this for a server connection gets an
            # error instead of hanging; the API's own pool_timeout is shorter.
            "query_wait_timeout = 30",
            "server_idle_timeout = 60",
            "log_connections = 0",
            "log_disconnections = 0",
            "",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ process

    def start(self, superuser_conninfo: str) -> None:
        """Write the configuration and start PgBouncer; returns once it accepts connections."""
        binary = find_pgbouncer()
        self.cluster.private_dir(self.directory)
        self._stop_stale()
        self.cluster.write_private_file(self.directory / "userlist.txt", self._auth_file(superuser_conninfo))
        self.cluster.write_private_file(self.directory / "pgbouncer.ini", self._ini())
        socket = self.socket_dir / f".s.PGSQL.{self.port}"
        offset = log_size(self.log_file)
        self._process = self.cluster.spawn_as_server([binary, self.directory / "pgbouncer.ini"],
                                                     cwd=self.directory)
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if socket.exists() and "process up" in log_since(self.log_file, offset):
                log.info("PgBouncer is up on %s (pool of %d server connections)", socket, self.pool_size)
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedError(f"PgBouncer did not start\n--- last lines of {self.log_file} ---\n{log_tail(self.log_file)}")

    def _stop_stale(self) -> None:
        """A PgBouncer left running by a `studio up` that was killed holds the port."""
        try:
            pid = int(self._pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if b"pgbouncer" not in cmdline:
            self._pid_file.unlink(missing_ok=True)
            return
        log.warning("stopping a PgBouncer left running (pid %d)", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
        self._pid_file.unlink(missing_ok=True)

    def stop(self, grace: float = 10) -> None:
        """SIGINT: PgBouncer stops accepting, lets running transactions end, then exits."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
