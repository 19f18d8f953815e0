"""`studio up` and the one-shot commands on the embedded default, as an operator runs
them: real processes, a real PostgreSQL run as the `postgres` OS user (we are root),
HTTP on 127.0.0.1."""

from __future__ import annotations

import pwd
import signal
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from studio.db import migrate
from studio.db.embedded import (
    RELOCATED_ROOT,
    EmbeddedCluster,
)

from .support import (
    IS_ROOT,
    PASSWORD,
    Lab,
    StudioProcess,
    alive,
    child_env,
    free_port,
    needs_postgres,
    one_line,
    port_answers,
    postmaster_pid,
)

pytestmark = [pytest.mark.slow, needs_postgres]
as_root = pytest.mark.skipif(not IS_ROOT, reason="exercises the root code path (server run as `postgres`)")


# --------------------------------------------------------------------------- helpers


def _client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)


def _login(client: httpx.Client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


def _start_up(lab: Lab, home: Path, port: int, **extra: str) -> tuple[StudioProcess, dict]:
    proc = lab.start(["up"], child_env(home, port, **extra))
    return proc, proc.wait_ready(port)


def _stop_up(proc: StudioProcess, home: Path, port: int) -> None:
    """SIGTERM -> exit 0 within the grace period, API gone, the home's postgres stopped."""
    cluster = EmbeddedCluster(home)
    postmaster = postmaster_pid(cluster)
    assert postmaster is not None and alive(postmaster), "the embedded postgres should run while Studio is up"
    code = proc.terminate()
    assert code is not None, f"studio up ignored SIGTERM:\n{proc.describe()}"
    assert code == 0, f"studio up exited {code} after SIGTERM:\n{proc.describe()}"
    assert "Studio stopped." in proc.stderr
    assert not port_answers(port), "the API still listens after studio up exited"
    assert not cluster.is_running(), f"the embedded postgres of {home} still runs after studio up exited"
    assert not (cluster.data_dir / "postmaster.pid").exists()
    assert not alive(postmaster)


def _assert_ready_at_head(ready: dict) -> None:
    head = migrate.head_revision()
    assert ready["status"] == "ready"
    assert ready["checks"]["database"] == "ok"
    assert ready["checks"]["migrations"] == {"current": head, "expected": head, "status": "ok"}


def _stopped(home: Path) -> bool:
    cluster = EmbeddedCluster(home)
    return not cluster.is_running() and not (cluster.data_dir / "postmaster.pid").exists()


# --------------------------------------------------------------------------- studio up


@as_root
def test_up_as_root_twice_on_the_same_home_keeps_the_data(lab: Lab) -> None:
    home = lab.home()
    port = free_port()
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.org"

    # First run: a fresh home is initialised, migrated and served.
    proc, ready = _start_up(lab, home, port)
    _assert_ready_at_head(ready)
    said = proc.wait_output("Stop with Ctrl+C.")
    assert f"Studio is ready at http://127.0.0.1:{port}" in said
    # No admin yet: the one-time link that creates the first one (tests/e2e/test_first_run_e2e.py).
    assert f"Create the first admin account: http://127.0.0.1:{port}/setup#token=" in said
    assert f"API reference: http://127.0.0.1:{port}/docs" in said
    cluster = EmbeddedCluster(home)
    assert cluster.data_dir == (home / "pg" / "data").resolve()
    owner = cluster.data_dir.stat().st_uid
    assert owner != 0 and owner == pwd.getpwnam("postgres").pw_uid
    assert (home / "secrets.env").stat().st_mode & 0o077 == 0

    with _client(port) as client:
        signup = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD,
                                                      "display_name": "E2E"})
        assert signup.status_code == 201, signup.text
        login = _login(client, email)
        assert login["user"]["email"] == email
        created = client.post("/v1/conversations", json={"title": "kept across restarts"})
        assert created.status_code == 201, created.text
        conversation = created.json()
        listed = client.get("/v1/conversations")
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["items"]] == [conversation["id"]]
    _stop_up(proc, home, port)

    # Second run on the same home: no re-init, same data, same clean stop.
    port = free_port()
    proc, ready = _start_up(lab, home, port)
    _assert_ready_at_head(ready)
    assert "initialising" not in proc.stderr
    with _client(port) as client:
        _login(client, email)
        me = client.get("/v1/me")
        assert me.status_code == 200 and me.json()["user"]["email"] == email
        listed = client.get("/v1/conversations")
        assert listed.status_code == 200, listed.text
        assert [(c["id"], c["title"]) for c in listed.json()["items"]] == [
            (conversation["id"], "kept across restarts")]
        again = client.get(f"/v1/conversations/{conversation['id']}")
        assert again.status_code == 200 and again.json()["title"] == "kept across restarts"
    _stop_up(proc, home, port)


@as_root
def test_up_with_a_home_the_postgres_user_cannot_enter_relocates_the_cluster(lab: Lab) -> None:
    home = lab.home(reachable=False)
    assert (home.parent.stat().st_mode & 0o777) == 0o700 and home.parent.stat().st_uid == 0
    port = free_port()

    proc, ready = _start_up(lab, home, port)
    _assert_ready_at_head(ready)
    link = home / "pg"
    assert link.is_symlink()
    target = link.resolve()
    assert target.parent == RELOCATED_ROOT
    assert EmbeddedCluster(home).data_dir == target / "data"
    # The user's own directory was not loosened to make room for the server.
    assert (home.parent.stat().st_mode & 0o777) == 0o700
    _stop_up(proc, home, port)


def test_up_stops_postgres_again_when_sigterm_arrives_during_startup(lab: Lab) -> None:
    home = lab.home()
    port = free_port()
    proc = lab.start(["up"], child_env(home, port))
    proc.wait_output("initialising the embedded PostgreSQL cluster")
    proc.proc.send_signal(signal.SIGTERM)
    code = proc.wait_exit(60)
    assert code is not None, f"studio up ignored SIGTERM during startup:\n{proc.describe()}"
    assert code == 0, proc.describe()
    assert "Studio is ready" not in proc.stderr
    assert not port_answers(port)
    assert _stopped(home), "SIGTERM during startup left the embedded postgres running"


def test_up_on_a_taken_port_is_refused_with_one_line_before_anything_starts(lab: Lab) -> None:
    home = lab.home()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = lab.run(["up"], child_env(home, port), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [(
        f"error: port {port} on 127.0.0.1 is already in use by another program; stop it, or start Studio on "
        f"another port (STUDIO_PORT=...)")], result.stderr
    # Refused before the database: nothing initialised, nothing left running.
    assert not EmbeddedCluster(home).is_initialized() and not (home / "pg").exists()
    assert _stopped(home)


# --------------------------------------------------------------------------- studio db


def test_db_commands_start_and_stop_the_embedded_cluster_for_their_own_run(lab: Lab) -> None:
    home = lab.home()
    env = child_env(home)
    revisions = [revision for revision, _ in migrate.history()]
    head, previous = revisions[-1], revisions[-2]

    def run(*args: str) -> str:
        result = lab.run(["db", *args], env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"studio db {' '.join(args)} exited {result.returncode}:\n{output}"
        assert "Traceback" not in output
        assert _stopped(home), f"studio db {' '.join(args)} left the embedded postgres running"
        return one_line(output)

    # A fresh home: initialised and bootstrapped, nothing migrated yet.
    status = run("status")
    assert f"current: base head: {head}" in status and "run `studio db upgrade`" in status
    assert str(EmbeddedCluster(home).data_dir) in status

    assert f"at revision {head}" in run("upgrade")
    status = run("status")
    assert f"current: {head} head: {head}" in status and "up to date" in status

    assert f"at revision {previous}" in run("downgrade", previous)
    status = run("status")
    assert f"current: {previous} head: {head}" in status and "run `studio db upgrade`" in status

    assert f"at revision {head}" in run("upgrade")
    status = run("status")
    assert f"current: {head} head: {head}" in status and "up to date" in status


# --------------------------------------------------------------------------- studio user


def test_user_create_admin_then_sign_in_through_studio_up(lab: Lab) -> None:
    home = lab.home()
    email = "someone@example.org"

    created = lab.run(["user", "create", email, "--password", PASSWORD, "--admin"], child_env(home))
    assert created.returncode == 0, created.stdout + created.stderr
    assert f"created admin account {email}" in one_line(created.stderr)
    assert _stopped(home), "studio user create left the embedded postgres running"

    port = free_port()
    proc, _ = _start_up(lab, home, port)
    with _client(port) as client:
        login = _login(client, email)
        assert login["user"]["role"] == "admin"
        me = client.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["user"]["email"] == email and me.json()["user"]["role"] == "admin"

    # Again, while Studio runs: refused with one line and exit 1, and the cluster that
    # `studio up` started is left running.
    again = lab.run(["user", "create", email, "--password", PASSWORD], child_env(home))
    assert again.returncode == 1, again.stdout + again.stderr
    errors = [line for line in again.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"error: an account for {email} already exists"], again.stderr
    assert "Traceback" not in again.stderr
    assert EmbeddedCluster(home).is_running()
    with _client(port) as client:
        assert client.get("/readyz").status_code == 200
    _stop_up(proc, home, port)
