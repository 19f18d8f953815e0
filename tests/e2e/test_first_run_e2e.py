"""A clean first run, as a person starts Studio: `studio up` says what it does in plain
lines and prints a one-time link that creates the first admin (until one exists); its
log lines go to a file under the home; one `studio up` per home; the commands that talk
to the running API find its port through the home."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from .support import PASSWORD, Lab, StudioProcess, child_env, free_port, needs_postgres, one_line, port_answers

pytestmark = [pytest.mark.slow, needs_postgres]

LINK = re.compile(r"(http://127\.0\.0\.1:(\d+))/setup#token=([A-Za-z0-9_-]{43})")


def _env(home: Path, port: int | None = None, **extra: str) -> dict[str, str]:
    # No backups: they have nothing to do with a first run, and cost a minute of archiving.
    return child_env(home, port, STUDIO_BACKUP_ENABLED="false", **extra)


def _up(lab: Lab, home: Path, port: int, **extra: str) -> StudioProcess:
    proc = lab.start(["up"], _env(home, port, **extra))
    proc.wait_ready(port)
    proc.wait_output("Stop with Ctrl+C.")
    return proc


def _links(text: str) -> list[tuple[str, str, str]]:
    return LINK.findall(text)


def _log_entries(log_file: Path, *, until_logger: str, timeout: float = 60) -> list[dict]:
    """The log's entries once `until_logger` has written one: the worker starts beside
    the API and may still be importing when the API answers."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [json.loads(line) for line in log_file.read_text().splitlines()]
        if any(e["logger"] == until_logger for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def _stop(proc: StudioProcess) -> None:
    assert proc.terminate() == 0, proc.describe()
    assert proc.stderr.rstrip().endswith("Studio stopped."), proc.describe()


def test_first_run_prints_plain_lines_and_a_setup_link_that_creates_the_admin(lab: Lab) -> None:
    home = lab.home()
    port = free_port()
    up = _up(lab, home, port)

    # The terminal gets sentences, in order, and no log line at all.
    lines = [line for line in up.stderr.splitlines() if line.strip()]
    expected = ["First run: initialising the embedded PostgreSQL cluster in",
                "Starting the database (embedded PostgreSQL in",
                "Migrating the database schema from an empty database to revision",
                "Starting the API (1 process on 127.0.0.1:",
                f"Studio is ready at http://127.0.0.1:{port}",
                "  Create the first admin account: http://127.0.0.1:",
                "  (a one-time link; `studio setup-link` prints a new one)",
                f"  API reference: http://127.0.0.1:{port}/docs",
                f"  Logs: {home.resolve() / 'logs' / 'studio.log'}",
                "Stop with Ctrl+C."]
    assert len(lines) == len(expected) and all(line.startswith(start) for line, start in zip(lines, expected)), \
        up.describe()
    assert up.stdout == "", up.describe()
    assert not any(line.lstrip().startswith("{") for line in lines)
    # The JSON log lines of all three processes are in the file instead.
    log_file = home / "logs" / "studio.log"
    entries = _log_entries(log_file, until_logger="studio.worker")
    assert {e["logger"] for e in entries} >= {"studio.launcher", "studio.worker"}, entries[-5:]
    assert any(e["message"] == "Application startup complete." for e in entries)
    assert len({e["pid"] for e in entries}) >= 3  # studio up, the API, the worker
    published = json.loads((home / "run" / "api.json").read_text())
    assert published == {"url": f"http://127.0.0.1:{port}", "host": "127.0.0.1", "port": port, "pid": up.pid}

    [(base, link_port, first)] = _links(up.stderr)
    assert base == f"http://127.0.0.1:{port}" and int(link_port) == port
    assert first not in log_file.read_text()

    # Lost it? `studio setup-link` prints a fresh one (stdout), and the first stops working.
    fresh = lab.run(["setup-link"], _env(home))  # no STUDIO_PORT: the port comes from the home
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    [(base, _, token)] = _links(fresh.stdout)
    assert base == f"http://127.0.0.1:{port}" and token != first
    with httpx.Client(base_url=base, timeout=15) as client:
        old = client.get(f"/v1/setup/{first}")
        assert old.status_code == 404 and old.json()["error"]["code"] == "not_found"
        assert client.get(f"/v1/setup/{token}").json() == {"valid": True}
        created = client.post("/v1/setup", json={"token": token, "email": "root@example.org", "password": PASSWORD,
                                                 "display_name": "Root"})
        assert created.status_code == 200, created.text
        me = client.get("/v1/me")
        assert me.status_code == 200 and me.json()["user"]["role"] == "admin", me.text
        used = client.post("/v1/setup", json={"token": token, "email": "two@example.org", "password": PASSWORD})
        assert used.status_code == 404 and used.json()["error"]["code"] == "setup_link_used"
        # The token reached no log: the page keeps it in the fragment, the API logs the route.
        assert token not in log_file.read_text()

    # With an admin, no link is issued any more.
    refused = lab.run(["setup-link"], _env(home))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert [line for line in refused.stderr.splitlines() if line.startswith("error:")] == [
        "error: Studio has an admin already: sign in, or add an admin with `studio user create EMAIL --admin`"]
    assert not _links(refused.stdout + refused.stderr)
    _stop(up)
    assert not (home / "run" / "api.json").exists()

    port = free_port()
    again = _up(lab, home, port)
    said = one_line(again.stderr)
    assert "Studio is ready" in said and "setup#token=" not in said and "First run" not in said
    assert f"Open http://127.0.0.1:{port} and sign in" in said
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
        login = client.post("/v1/auth/login", json={"email": "root@example.org", "password": PASSWORD})
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
    _stop(again)


def test_one_up_per_home_and_commands_find_its_port_through_the_home(lab: Lab) -> None:
    home = lab.home()
    port = free_port()
    while port == 8000:
        port = free_port()
    up = _up(lab, home, port, STUDIO_LOG_STDOUT="true")
    # Asked onto the terminal, the log lines are standard output's, the sentences stay on stderr.
    entries = [json.loads(line) for line in up.stdout.splitlines()]
    assert any(e["message"] == "Application startup complete." for e in entries), up.describe()
    assert not (home / "logs").exists()

    # A second `studio up` on the same home: one plain line, exit 1, and the first goes on.
    other_port = free_port()
    second = lab.run(["up"], _env(home, other_port), timeout=60)
    assert second.returncode == 1, second.stdout + second.stderr
    assert second.stdout == ""
    assert second.stderr.splitlines() == [(
        f"error: Studio is already running on {home.resolve()} (pid {up.pid}, http://127.0.0.1:{port}); "
        f"stop it first (Ctrl+C where it runs, or kill {up.pid})")], second.stderr
    assert not port_answers(other_port)
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=15).status_code == 200
    assert up.proc.poll() is None

    # `studio audit` without STUDIO_PORT reaches the API on its port, through the home.
    audited = lab.run(["audit", "--format", "json"], _env(home))
    assert "Traceback" not in audited.stderr, audited.stderr
    checks = {c["id"]: c for c in json.loads(audited.stdout)["checks"]}
    for check in ("K4", "F12", "F23"):  # each asks the running API over HTTP
        assert checks[check]["status"] == "pass", checks[check]

    _stop(up)
    assert not (home / "run" / "api.json").exists()
    # Stopped: nobody holds the home, a new `studio up` may start on it.
    assert (home / "studio-up.pid").read_text() == ""
