"""One `studio up` per home (launcher/instance.py): the lock, the published URL, the port
check. The e2e tier (tests/e2e/test_first_run_e2e.py) runs the real thing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from studio.config import Settings
from studio.launcher import instance
from studio.launcher.deployment import LauncherError


def test_local_url_turns_wildcards_into_loopback() -> None:
    assert instance.local_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert instance.local_url("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert instance.local_url("::", 8080) == "http://[::1]:8080"
    assert instance.local_url("::1", 8080) == "http://[::1]:8080"
    assert instance.local_url("studio.internal", 9000) == "http://studio.internal:9000"


def test_the_lock_says_who_runs_and_refuses_a_second_holder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert instance.running_pid(home) is None
    with instance.exclusive(home):
        assert instance.running_pid(home) == os.getpid()
        with instance.published(home, "0.0.0.0", 8123) as url:
            assert url == "http://127.0.0.1:8123"
            assert instance.published_url(home) == url
            # Another process (a second `studio up`) cannot take it.
            script = ("import sys; from pathlib import Path; from studio.launcher import instance\n"
                      "try:\n    instance.exclusive(Path(sys.argv[1])).__enter__()\n"
                      "except instance.AlreadyRunning as exc:\n    print(exc)\n")
            probe = subprocess.run([sys.executable, "-c", script, str(home)],
                                   capture_output=True, text=True, timeout=60, check=True)
            assert probe.stdout.strip() == (
                f"Studio is already running on {home} (pid {os.getpid()}, http://127.0.0.1:8123); "
                f"stop it first (Ctrl+C where it runs, or kill {os.getpid()})")
        assert not instance.api_path(home).exists()
    # Released: nobody runs, the file stays (emptied), a new holder may take it.
    assert instance.running_pid(home) is None
    assert instance.lock_path(home).read_text() == ""
    with instance.exclusive(home):
        pass


def test_a_url_left_by_a_killed_run_is_not_trusted(tmp_path: Path) -> None:
    home = tmp_path
    instance.lock_path(home).write_text("999999\n")  # a pid, but nobody holds the lock
    instance.api_path(home).parent.mkdir()
    instance.api_path(home).write_text(json.dumps({"url": "http://127.0.0.1:1"}))
    assert instance.running_pid(home) is None and instance.published_url(home) is None
    settings = Settings(home=home, port=8555)
    assert instance.api_url(settings) == "http://127.0.0.1:8555"


def test_a_taken_port_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LauncherError, match=f"port {port} on 127.0.0.1 is already in use"):
            instance.check_port_free("127.0.0.1", port)
    instance.check_port_free("127.0.0.1", port)  # free again
