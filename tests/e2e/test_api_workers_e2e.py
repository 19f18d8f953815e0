"""`studio up` with STUDIO_API_WORKERS=2: two API processes serve one port, and /metrics,
whichever process answers the scrape, reports the sum of both (prometheus-client's
multiprocess mode): every request counted exactly once, both pools, both processes.
A process killed outright is replaced, and the sums stay right. Stopping Studio stops
them all and removes the directory their metrics were shared in."""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .support import Lab, alive, child_env, client, descendants, free_port, needs_postgres, sign_up_and_log_in

pytestmark = [pytest.mark.slow, needs_postgres]

WORKERS = 2
POOL_MAX = 4
BATCH = 48


def scrape(port: int) -> dict[str, float]:
    """The sample lines of one scrape: `name{labels}` -> value."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=15)
    assert response.status_code == 200, response.text
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def wait_for_sample(port: int, name: str, expected: float, timeout: float = 30) -> dict[str, float]:
    """Each process writes its pool's state every second: wait until the scrape shows `expected`."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(port)
        if samples.get(name) == expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def api_processes(up_pid: int) -> tuple[int, list[int]]:
    """The `studio api` process under `studio up`, and the processes serving under it:
    uvicorn spawns them (multiprocessing), granian forks them (the same command line)."""
    def cmdline(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""
    under_up = descendants(up_pid)
    api = next(pid for pid in sorted(under_up) if cmdline(pid).endswith(b"\0-m\0studio\0api\0")
               and pid not in set().union(*(descendants(p) for p in under_up if p != pid)))
    return api, [pid for pid in descendants(api)
                 if b"multiprocessing.spawn" in cmdline(pid) or cmdline(pid) == cmdline(api)]


def log_entries(log_text: str) -> list[dict]:
    return [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]


def access_pids(log_text: str, route: str) -> set[int]:
    return {entry["pid"] for entry in log_entries(log_text)
            if entry["logger"] == "studio.access" and entry.get("route") == route}


def started(log_text: str, pid: int) -> bool:
    """The process logged that its app is serving (its metrics exist from before that)."""
    return any(entry["pid"] == pid and entry["message"] == "API process ready" for entry in log_entries(log_text))


def metrics_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("studio-api-metrics-*"))


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_two_api_processes_serve_one_port_and_report_one_sum(lab: Lab, server: str) -> None:
    home = lab.home()
    port = free_port()
    env = child_env(home, port, STUDIO_API_WORKERS=str(WORKERS), STUDIO_POOL_MAX_SIZE=str(POOL_MAX),
                    STUDIO_POOL_MIN_SIZE="1", STUDIO_BACKUP_ENABLED="false", STUDIO_RATE_LIMITS_ENABLED="false",
                    STUDIO_API_SERVER=server)
    earlier_dirs = metrics_dirs()
    # Debug logging, for the API's processes too; every process's log lines on stdout.
    up = lab.start(["-v", "up", "--log-json"], env)
    up.wait_ready(port)
    up.wait_output(f"{WORKERS} API processes")  # in the ready line
    api, servers = api_processes(up.pid)
    assert len(servers) == WORKERS, (servers, up.describe())
    (metrics_dir,) = metrics_dirs() - earlier_dirs  # the one `studio api` made for this run
    deadline = time.monotonic() + 60
    while not all(started(up.stderr + up.stdout, pid) for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(started(up.stderr + up.stdout, pid) for pid in servers), up.describe()
    assert any(metrics_dir.iterdir())  # the processes write their figures there

    samples = wait_for_sample(port, "studio_api_processes", WORKERS)
    assert samples["studio_api_processes"] == WORKERS, samples
    samples = wait_for_sample(port, "studio_db_pool_max", WORKERS * POOL_MAX)
    assert samples["studio_db_pool_max"] == WORKERS * POOL_MAX, samples
    assert not any(name.startswith("process_") for name in samples), "per-process metrics of one process only"

    # A user signed in through one process is served by the other (same keys, same database).
    c = client(port)
    sign_up_and_log_in(c)
    created = c.post("/v1/conversations", json={"title": "seen by both"})
    assert created.status_code == 201, created.text
    c.close()
    cookies, csrf = c.cookies, c.headers["X-CSRF-Token"]

    route = "/v1/conversations"
    key = f'studio_http_requests_total{{method="GET",route="{route}",status="200"}}'

    def read(_: int) -> tuple[int, list[str]]:
        # A client of its own, so each request may land on either process.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=15) as own:
            response = own.get(route)
            return response.status_code, [item["title"] for item in response.json().get("items", [])]

    # Batches until both processes have answered some (the kernel picks who accepts).
    sent = 0
    deadline = time.monotonic() + 60
    while True:
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(read, range(BATCH)))
        sent += BATCH
        assert results == [(200, ["seen by both"])] * BATCH
        served_by = access_pids(up.stderr + up.stdout, route)
        if served_by == set(servers) or time.monotonic() > deadline:
            break
    assert served_by == set(servers), (served_by, servers)
    # `-v` reached the processes `studio up` started (through STUDIO_LOG_LEVEL), not only
    # itself: the worker writes debug lines too.
    debug_from = {entry["pid"] for entry in log_entries(up.stderr + up.stdout) if entry["level"] == "debug"}
    assert debug_from - {up.pid} and debug_from <= {up.pid, *descendants(up.pid)}, (debug_from, up.pid)

    # Counted once each, whichever process answers the scrape; and a write with the CSRF
    # token one process issued is accepted wherever it lands.
    for _ in range(4):
        assert scrape(port)[key] == sent
    for n in range(8):  # a connection each, so either process may take it
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=15) as own:
            response = own.post(route, json={"title": f"write {n}"}, headers={"X-CSRF-Token": csrf})
            assert response.status_code == 201, response.text
    histogram = re.escape(f'studio_http_request_duration_seconds_count{{method="GET",route="{route}",status="200"}}')
    assert [v for k, v in scrape(port).items() if re.fullmatch(histogram, k)] == [sent]

    # A process killed outright is replaced by the server; the scrape forgets its live
    # figures (it could not say it stopped) and keeps its counts.
    before = scrape(port)
    os.kill(servers[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        _, now_serving = api_processes(up.pid)
        if len(now_serving) == WORKERS and servers[0] not in now_serving or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(now_serving) == WORKERS and servers[0] not in now_serving, now_serving
    (replacement,) = set(now_serving) - set(servers)
    while not started(up.stderr + up.stdout, replacement) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started(up.stderr + up.stdout, replacement), up.describe()
    samples = wait_for_sample(port, "studio_db_pool_max", WORKERS * POOL_MAX)
    assert samples["studio_api_processes"] == WORKERS, samples
    assert samples["studio_db_pool_max"] == WORKERS * POOL_MAX, samples
    assert samples[key] == before[key]

    code = up.terminate()
    assert code == 0, up.describe()
    assert not any(alive(pid) for pid in (api, *servers, *now_serving))
    assert not metrics_dir.exists()
