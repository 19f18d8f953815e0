"""STUDIO_DATABASE_URL: Studio on an existing cluster, not its embedded one. The roles
are created once with an admin login, migrations run as studio_owner, and the API
process is handed nothing but studio_api's password."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from studio.config import API_ROLE, OWNER_ROLE, WORKER_ROLE
from studio.db import migrate
from tests.e2e.support import PASSWORD, Lab, child_env, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def external(pg):
    """Where the test cluster is (no credentials), a database name nobody uses yet, and
    the admin login; the database is dropped afterwards."""
    params = conninfo_to_dict(pg.admin_conninfo)
    location = make_conninfo(**{k: v for k, v in params.items() if k in ("host", "port")})
    name = f"studio_ext_{uuid.uuid4().hex[:10]}"
    try:
        yield location, name, pg.admin_conninfo
    finally:
        pg.drop_database(name)


def test_bootstrap_migrate_and_serve_on_an_existing_cluster(lab: Lab, pg, external):
    location, name, admin_url = external
    # The test session's cluster already has Studio's roles; bootstrapping again must
    # keep their passwords, so use the same ones.
    owner_env = child_env(lab.home(), None, STUDIO_DATABASE_URL=location, STUDIO_DB_NAME=name,
                          STUDIO_OWNER_PASSWORD=pg.passwords[OWNER_ROLE],
                          STUDIO_API_PASSWORD=pg.passwords[API_ROLE],
                          STUDIO_WORKER_PASSWORD=pg.passwords[WORKER_ROLE])

    refused = lab.run(["db", "bootstrap"], owner_env)
    assert refused.returncode == 1 and "--admin-url" in refused.stderr

    bootstrapped = lab.run(["db", "bootstrap", "--admin-url", admin_url], owner_env)
    assert bootstrapped.returncode == 0, bootstrapped.stderr
    upgraded = lab.run(["db", "upgrade"], owner_env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"at revision {migrate.head_revision()}" in upgraded.stderr
    status = lab.run(["db", "status"], owner_env)
    assert "up to date" in status.stdout, status.stdout + status.stderr
    # Nothing was started in the home: the embedded cluster is not involved.
    assert not lab.homes[-1].joinpath("pg").exists()

    port = free_port()
    api_env = child_env(lab.home(), port, STUDIO_DATABASE_URL=location, STUDIO_DB_NAME=name,
                        STUDIO_API_PASSWORD=pg.passwords[API_ROLE])
    api = lab.start(["api"], api_env)
    ready = api.wait_ready(port)
    assert ready["checks"]["migrations"]["current"] == migrate.head_revision()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        assert client.post("/v1/auth/signup", json={"email": "ext@example.org", "password": PASSWORD}).status_code == 201
        assert client.post("/v1/auth/login", json={"email": "ext@example.org", "password": PASSWORD}).status_code == 200
    # A clean shutdown; uvicorn then re-raises SIGTERM, the conventional way to report it.
    assert api.terminate() in (0, -15), api.describe()
    assert "Application shutdown complete" in api.stderr

    with psycopg.connect(make_conninfo(admin_url, dbname=name)) as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [("ext@example.org",)]
        # Only Studio's roles may connect to its database.
        acl = conn.execute(sql.SQL("SELECT datacl::text FROM pg_database WHERE datname = {}").format(
            sql.Literal(name))).fetchone()[0]
    assert "=c" not in acl.split("studio")[0], acl  # PUBLIC lost CONNECT
