"""`studio up --pgbouncer`: the API and the worker reach the embedded cluster through a
real PgBouncer in transaction mode (F2). Many concurrent requests of different users
share 2 server connections, each sees only its own data, nothing fails, a generation
runs through the worker, and stopping Studio stops PgBouncer too."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from studio.db.embedded import EmbeddedCluster

from .support import (
    Lab,
    alive,
    child_env,
    client,
    create_generation,
    free_port,
    model_id,
    needs_postgres,
    sign_up_and_log_in,
    superuser_sql,
    wait_generation,
)

pytestmark = [pytest.mark.slow, needs_postgres]

SERVER_POOL = 2
RUNTIME_BACKENDS = ("SELECT count(*) FROM pg_stat_activity"
                    " WHERE usename IN ('studio_api', 'studio_worker') AND backend_type = 'client backend'"
                    # Each process's connection listener goes straight to the server, not through the pool.
                    " AND application_name <> 'studio-connections'")


def test_up_through_pgbouncer_serves_many_clients_on_two_server_connections(lab: Lab) -> None:
    home = lab.home()
    port = free_port()
    bouncer_port = free_port()
    env = child_env(home, port, STUDIO_PGBOUNCER_PORT=str(bouncer_port),
                    STUDIO_PGBOUNCER_POOL_SIZE=str(SERVER_POOL),
                    STUDIO_POOL_MAX_SIZE="10",  # the API alone would open up to 10 without PgBouncer
                    STUDIO_BACKUP_ENABLED="false")
    up = lab.start(["up", "--pgbouncer"], env)
    up.wait_ready(port)
    # Printed once `studio up` itself has seen the API ready, which may be after we did.
    up.wait_output(f"through PgBouncer with {SERVER_POOL} server connections")
    cluster = EmbeddedCluster(home)
    bouncer_pid = int((cluster.pg_dir / "pgbouncer" / "pgbouncer.pid").read_text().split()[0])
    assert alive(bouncer_pid)

    users = []
    for n in range(3):
        c = client(port)
        sign_up_and_log_in(c)
        tag = f"user{n}-{uuid.uuid4().hex[:6]}"
        for i in range(3):
            created = c.post("/v1/conversations", json={"title": f"{tag} #{i}"})
            assert created.status_code == 201, created.text
        users.append((c, tag))

    # Sample how many server connections the runtime roles hold while the load runs.
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, superuser_sql(home, RUNTIME_BACKENDS)[0][0])
            stop.wait(0.02)

    def read(k: int) -> tuple[int, str, list[str]]:
        c, tag = users[k % len(users)]
        response = c.get("/v1/conversations")
        titles = [item["title"] for item in response.json().get("items", [])] if response.status_code == 200 else []
        return response.status_code, tag, titles

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=24) as pool:
            results = list(pool.map(read, range(240)))
    finally:
        stop.set()
        sampler.join()

    assert [status for status, _, _ in results] == [200] * len(results)
    for _, tag, titles in results:
        assert sorted(titles) == [f"{tag} #{i}" for i in range(3)]  # its own, all of them, nothing else
    # 2 through PgBouncer, plus the direct LISTEN connections (the worker's; the API's
    # event stream listener opens only with a stream). The API's pool of 10 stays behind PgBouncer.
    assert 1 <= peak <= SERVER_POOL + 2, peak

    # The worker claims and completes through PgBouncer, woken through its direct LISTEN.
    c, _ = users[0]
    generation = create_generation(c, "audio", model_id(c, "espeak-en"), "Through the pooler")
    done = wait_generation(c, generation["id"], {"succeeded", "failed", "canceled"}, 60, [up])
    assert done["status"] == "succeeded", done

    for c, _ in users:
        c.close()
    code = up.terminate()
    assert code == 0, up.describe()
    assert not alive(bouncer_pid)
    assert not (cluster.socket_dir / f".s.PGSQL.{bouncer_port}").exists()
