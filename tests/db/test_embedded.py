"""Tests for the embedded PostgreSQL cluster: real initdb/pg_ctl/postgres, no mocks.

Every server started here is stopped in a fixture teardown (killed if stopping fails),
and every directory created outside pytest's control (homes, /tmp/studio-* socket
dirs, /var/lib/studio/clusters/<hash>) is removed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from studio.db.embedded import (
    RELOCATED_ROOT,
    EmbeddedCluster,
    EmbeddedError,
    PostgresNotFound,
    find_pg_bindir,
)
from tests.conftest import free_port

PASSWORD = "correct horse 'battery' staple"
IS_ROOT = os.geteuid() == 0

try:
    find_pg_bindir()
except PostgresNotFound as exc:  # pragma: no cover - depends on the machine
    pytestmark = pytest.mark.skip(reason=str(exc))


# --------------------------------------------------------------------------- helpers


def _reachable_tmpdir(prefix: str) -> Path:
    """mkdtemp makes a root-owned 0700 dir, which the postgres user cannot enter; the
    tests that are not about relocation want the plain home/pg layout."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _postmaster_pid(cluster: EmbeddedCluster) -> int | None:
    try:
        return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _is_gone(pid: int) -> bool:
    """Dead, or a zombie (PID 1 of a container may be slow to reap orphans)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def _force_stop(cluster: EmbeddedCluster) -> None:
    try:
        cluster.stop("immediate", timeout=30)
    except Exception:
        pid = _postmaster_pid(cluster)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _connect(cluster: EmbeddedCluster, password: str = PASSWORD, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(cluster.conninfo("postgres", password), autocommit=True, **kwargs)


def _show(cluster: EmbeddedCluster, name: str) -> str:
    with _connect(cluster) as conn:
        return conn.execute(f"show {name}").fetchone()[0]



class Lab:
    """Hands out homes and clusters and cleans up after them, whatever happened."""

    def __init__(self) -> None:
        self.dirs: list[Path] = []
        self.clusters: list[EmbeddedCluster] = []
        self._preexisting = {p: p.exists() for p in (RELOCATED_ROOT, RELOCATED_ROOT.parent)}

    def home(self, private: bool = False) -> Path:
        base = Path(tempfile.mkdtemp(prefix="studio-test-")) if private else _reachable_tmpdir("studio-test-")
        self.dirs.append(base)
        return base / "home"

    def cluster(self, home: Path, **kwargs: object) -> EmbeddedCluster:
        cluster = EmbeddedCluster(home=home, **kwargs)
        self.clusters.append(cluster)
        return cluster

    def cleanup(self) -> None:
        extra: set[Path] = set()
        for cluster in self.clusters:
            _force_stop(cluster)
            pg_dir = cluster.pg_dir
            if pg_dir.parent == RELOCATED_ROOT:
                extra.add(pg_dir)
            if cluster.socket_dir.parent != pg_dir:
                extra.add(cluster.socket_dir)
        for path in [*extra, *self.dirs]:
            shutil.rmtree(path, ignore_errors=True)
        # Remove /var/lib/studio/clusters (and /var/lib/studio) only if we created them
        # and nothing else lives there.
        for path in (RELOCATED_ROOT, RELOCATED_ROOT.parent):
            if not self._preexisting[path] and path.is_dir() and not any(path.iterdir()):
                path.rmdir()


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()


@pytest.fixture(scope="module")
def running() -> Iterator[EmbeddedCluster]:
    """One shared, running cluster for the read-only checks (saves an initdb each)."""
    lab = Lab()
    try:
        cluster = lab.cluster(lab.home(), settings={"work_mem": "8MB"})
        cluster.init(PASSWORD)
        cluster.start()
        yield cluster
    finally:
        lab.cleanup()


# --------------------------------------------------------------------------- lifecycle


def test_data_survives_restarts_and_a_moved_home(lab: Lab) -> None:
    home = lab.home()
    cluster = lab.cluster(home)
    assert not cluster.is_initialized() and not cluster.is_running()

    cluster.init(PASSWORD)
    assert cluster.is_initialized() and not cluster.is_running()
    cluster.start()
    assert cluster.is_running()
    with _connect(cluster) as conn:
        conn.execute("create table notes (body text)")
        conn.execute("insert into notes values ('kept')")
    cluster.start()  # already running: nothing happens
    cluster.stop()

    for _ in range(2):
        cluster.start()
        with _connect(cluster) as conn:
            assert conn.execute("select body from notes").fetchall() == [("kept",)]
        cluster.stop()
        assert not cluster.is_running()
        assert not (cluster.data_dir / "postmaster.pid").exists()
    cluster.stop()  # not running: nothing happens

    # The socket directory follows the home, without re-init.
    moved = home.parent / "moved"
    home.rename(moved)
    again = lab.cluster(moved)
    assert again.is_initialized()
    assert again.pg_dir == (moved / "pg").resolve()
    with again:
        assert _show(again, "unix_socket_directories") == str(again.socket_dir)
        with _connect(again) as conn:
            assert conn.execute("select body from notes").fetchall() == [("kept",)]
    assert not again.is_running()
    assert not (again.data_dir / "postmaster.pid").exists()


def test_context_manager_leaves_a_server_it_did_not_start(running: EmbeddedCluster) -> None:
    other = EmbeddedCluster(home=running.home)
    with other as entered:
        assert entered is other
    assert running.is_running()


def test_init_refuses_an_existing_cluster(running: EmbeddedCluster) -> None:
    with pytest.raises(EmbeddedError, match="already exists"):
        running.init(PASSWORD)


def test_start_requires_init(lab: Lab) -> None:
    with pytest.raises(EmbeddedError, match="init"):
        lab.cluster(lab.home()).start()


def test_restart_after_kill_9(lab: Lab) -> None:
    cluster = lab.cluster(lab.home())
    cluster.init(PASSWORD)
    cluster.start()
    with _connect(cluster) as conn:
        conn.execute("create table t as select 1 as x")

    conn = _connect(cluster)  # left open on purpose: a crash rarely happens when idle
    pid = _postmaster_pid(cluster)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    conn.close()
    assert (cluster.data_dir / "postmaster.pid").exists()  # stale lock left behind
    assert not cluster.is_running()

    cluster.start()
    assert cluster.is_running()
    with _connect(cluster) as conn:
        assert conn.execute("select x from t").fetchone() == (1,)
    cluster.stop()
    assert not cluster.is_running()
    assert not (cluster.data_dir / "postmaster.pid").exists()


def test_long_home_uses_a_short_socket_dir(lab: Lab) -> None:
    home = lab.home() / ("a" * 50) / ("b" * 50)
    assert len(str(home)) > 110
    cluster = lab.cluster(home)
    cluster.init(PASSWORD)
    cluster.start()

    if len(str(cluster.pg_dir / "run" / f".s.PGSQL.{cluster.port}")) > 100:
        assert cluster.socket_dir.parent == Path("/tmp")
        assert cluster.socket_dir.name.startswith("studio-")
        info = cluster.socket_dir.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == pwd.getpwnam(cluster.server_user).pw_uid
    # A second process (the CLI) must find the same socket.
    assert EmbeddedCluster(home=home).socket_dir == cluster.socket_dir
    with _connect(cluster) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    cluster.stop()


def test_reconfigure_without_reinit(lab: Lab) -> None:
    port = free_port()
    cluster = lab.cluster(lab.home(), port=port)
    cluster.init(PASSWORD)
    cluster.start()
    assert _show(cluster, "listen_addresses") == ""
    with pytest.raises(psycopg.OperationalError):  # nothing on TCP
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=PASSWORD,
                        dbname="postgres", connect_timeout=5)
    cluster.stop()

    # A bad setting fails the start and the error carries the server log.
    cluster.settings = {"max_connections": "lots"}
    with pytest.raises(EmbeddedError) as failure:
        cluster.start(timeout=20)
    assert "max_connections" in str(failure.value)
    assert str(cluster.log_file) in str(failure.value)
    assert not cluster.is_running()

    cluster.settings = {"work_mem": "12MB"}
    cluster.listen_tcp = True
    cluster.start()
    assert _show(cluster, "listen_addresses") == "127.0.0.1"
    assert _show(cluster, "work_mem") == "12MB"
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=PASSWORD,
                         dbname="postgres", connect_timeout=5) as conn:
        assert conn.execute("select inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)
    cluster.stop()


# --------------------------------------------------------------------------- security


@pytest.mark.skipif(not IS_ROOT, reason="only root has to hand the server to the postgres user")
def test_server_runs_as_postgres_when_root(running: EmbeddedCluster) -> None:
    postgres = pwd.getpwnam("postgres")
    assert running.server_user == "postgres"
    for path in (running.data_dir, running.socket_dir, running.log_file.parent):
        info = path.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (postgres.pw_uid, 0o700), path
    assert _show(running, "data_directory") == str(running.data_dir)

    status = Path(f"/proc/{_postmaster_pid(running)}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert {int(uid) for uid in fields["Uid"].split()} == {postgres.pw_uid}
    assert "0" not in fields["Groups"].split()  # root's groups were dropped


def test_socket_only_by_default(running: EmbeddedCluster) -> None:
    assert _show(running, "listen_addresses") == ""
    assert _show(running, "unix_socket_directories") == str(running.socket_dir)
    assert _show(running, "unix_socket_permissions") == "0700"
    assert "host=" + str(running.socket_dir) in running.conninfo("postgres", PASSWORD).replace("'", "")


def test_studio_settings_applied(running: EmbeddedCluster) -> None:
    assert _show(running, "shared_preload_libraries") == "pg_stat_statements"
    assert _show(running, "password_encryption") == "scram-sha-256"
    assert _show(running, "data_checksums") == "on"
    assert _show(running, "server_encoding") == "UTF8"
    assert _show(running, "work_mem") == "8MB"


def test_password_required(running: EmbeddedCluster) -> None:
    hba = (running.data_dir / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules == [["local", "all", "all", "scram-sha-256"]]
    assert "trust" not in hba
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(running, password="wrong")


@pytest.mark.skipif(not IS_ROOT, reason="relocation only happens when running as root")
def test_unreachable_home_is_relocated(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    home = lab.home(private=True)  # inside a root-owned 0700 dir
    outer = home.parent
    assert stat.S_IMODE(outer.stat().st_mode) == 0o700

    cluster = lab.cluster(home)
    with caplog.at_level(logging.WARNING, logger="studio.db.embedded"):
        cluster.init(PASSWORD)
    link = home / "pg"
    expected = RELOCATED_ROOT / hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    assert link.is_symlink() and link.resolve() == expected
    assert cluster.pg_dir == expected and cluster.data_dir.is_relative_to(expected)
    assert f"{home} is not reachable by the postgres OS user" in caplog.text
    assert str(expected) in caplog.text

    cluster.start()
    with _connect(cluster) as conn:
        conn.execute("create table t as select 'here' as x")
    cluster.stop()
    # The user's own directory was left alone.
    info = outer.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o700)

    # A second run reuses the link and the data.
    again = lab.cluster(home)
    assert again.pg_dir == expected and again.is_initialized()
    with again:
        with _connect(again) as conn:
            assert conn.execute("select x from t").fetchone() == ("here",)


# --------------------------------------------------------------------------- binaries


def _fake_bindir(path: Path, version: str, tools: tuple[str, ...] = ("initdb", "pg_ctl", "postgres")) -> Path:
    path.mkdir(parents=True)
    for tool in tools:
        script = path / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {version}'\n")
        script.chmod(0o755)
    return path


def test_find_pg_bindir_not_found(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotFound) as error:
        find_pg_bindir(search_path="", extra_dirs=[str(tmp_path / "nowhere" / "*" / "bin")])
    message = str(error.value)
    assert "\n" not in message
    assert "postgresql" in message


def test_find_pg_bindir_ordering(tmp_path: Path) -> None:
    lib = tmp_path / "lib" / "postgresql"
    for version in ("9.6", "15", "16"):
        _fake_bindir(lib / version / "bin", version)
    _fake_bindir(lib / "17" / "bin", "17", tools=("pg_ctl", "postgres"))  # incomplete: ignored
    versions = [str(lib / "*" / "bin")]

    assert find_pg_bindir(search_path="", extra_dirs=versions) == lib / "16" / "bin"
    # PATH wins when new enough...
    on_path = _fake_bindir(tmp_path / "path14", "14.2")
    assert find_pg_bindir(search_path=str(on_path), extra_dirs=versions) == on_path
    # ...but an old one on PATH loses to a 13+ elsewhere,
    old = _fake_bindir(tmp_path / "path12", "12.4")
    assert find_pg_bindir(search_path=str(old), extra_dirs=versions) == lib / "16" / "bin"
    # and is still used when it is all there is.
    assert find_pg_bindir(search_path=str(old), extra_dirs=[]) == old
