"""The test session's PostgreSQL: one real cluster, one template database migrated once,
and a fresh copy of it (CREATE DATABASE ... TEMPLATE) for every test that asks.

By default the session starts its own embedded cluster in a temporary directory and
stops it at the end, also on failure. With STUDIO_TEST_ADMIN_URL (a superuser or
CREATEROLE connection string) the same tests run against an existing cluster instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from botocore.config import Config
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from studio.config import API_ROLE, OWNER_ROLE, WORKER_ROLE
from studio.db import migrate, roles
from studio.db.embedded import EmbeddedCluster

TEMPLATE_DB = "studio_test_template"


@dataclass
class PgTestCluster:
    admin_conninfo: str  # superuser, database "postgres"
    passwords: dict[str, str]
    cluster: EmbeddedCluster | None = None

    def conninfo(self, role: str, dbname: str) -> str:
        params = conninfo_to_dict(self.admin_conninfo)
        params.update(user=role, dbname=dbname)
        params["password"] = self.passwords[role] if role in self.passwords else params.get("password")
        return make_conninfo(**params)

    def admin(self, dbname: str) -> str:
        return make_conninfo(self.admin_conninfo, dbname=dbname)

    def create_database(self, template: str = TEMPLATE_DB) -> str:
        name = f"studio_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(template), sql.Identifier(OWNER_ROLE)))
            roles.grant_connect(conn, name)
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _passwords() -> dict[str, str]:
    return {role: secrets.token_urlsafe(24) for role in (OWNER_ROLE, API_ROLE, WORKER_ROLE)}


@pytest.fixture(scope="session")
def pg() -> Iterator[PgTestCluster]:
    external = os.environ.get("STUDIO_TEST_ADMIN_URL")
    home: Path | None = None
    cluster: EmbeddedCluster | None = None
    if external:
        test_cluster = PgTestCluster(make_conninfo(external, dbname="postgres"), _passwords())
    else:
        home = Path(tempfile.mkdtemp(prefix="studio-test-pg-"))
        superuser_password = secrets.token_urlsafe(24)
        # fsync off: a crashed test cluster is thrown away anyway, and it makes
        # CREATE DATABASE per test cheap.
        cluster = EmbeddedCluster(home, settings={"fsync": "off", "synchronous_commit": "off",
                                                  "full_page_writes": "off"})
        cluster.init(superuser_password)
        cluster.start()
        test_cluster = PgTestCluster(cluster.conninfo("postgres", superuser_password), _passwords(), cluster)
    try:
        test_cluster.drop_database(TEMPLATE_DB)
        roles.bootstrap(test_cluster.admin_conninfo, db_name=TEMPLATE_DB, passwords=test_cluster.passwords)
        migrate.upgrade(test_cluster.conninfo(OWNER_ROLE, TEMPLATE_DB))
        yield test_cluster
    finally:
        if cluster is not None:
            cluster.stop(mode="immediate")
        if home is not None:
            target = (home / "pg").resolve()
            shutil.rmtree(home, ignore_errors=True)
            if target != home / "pg":  # relocated cluster (unreachable home)
                shutil.rmtree(target, ignore_errors=True)


@pytest.fixture
def db(pg: PgTestCluster) -> Iterator[str]:
    """A fresh database at migration head, dropped after the test."""
    name = pg.create_database()
    try:
        yield name
    finally:
        pg.drop_database(name)


@pytest.fixture
def admin_conn(pg: PgTestCluster, db: str) -> Iterator[psycopg.Connection]:
    """Superuser connection to the test's database, for arranging and inspecting data
    from outside RLS. Never used by the code under test."""
    with psycopg.connect(pg.admin(db), autocommit=True) as conn:
        yield conn


# --------------------------------------------------------------------------- S3


MOTO_START_SECONDS = 30
S3_ACCESS_KEY = "testing"   # moto accepts any credentials
S3_SECRET_KEY = "testing"


@dataclass
class MotoServer:
    """A real S3-compatible server process (moto_server) on 127.0.0.1."""

    url: str

    @cached_property  # one per session: building a client costs ~0.1 s
    def client(self) -> Any:
        """A plain boto3 client for looking at the store from outside our code."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY, config=Config(s3={"addressing_style": "path"}))

    def storage_settings(self) -> dict[str, Any]:
        """Settings values for Studio's S3 storage on this server, with buckets of
        their own (a fresh prefix): tests share the server, never their objects."""
        return {"storage_backend": "s3", "s3_endpoint_url": self.url, "s3_access_key_id": S3_ACCESS_KEY,
                "s3_secret_access_key": S3_SECRET_KEY, "s3_bucket_prefix": f"t{uuid.uuid4().hex[:12]}-"}


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Started once per session on a free port, stopped at the end, also on failure."""
    executable = Path(sys.executable).with_name("moto_server")
    command = str(executable) if executable.exists() else shutil.which("moto_server")
    if command is None:
        pytest.fail("moto_server not found; install the test extra: pip install -e '.[test]'")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:  # a file, not a pipe: moto logs every request
        process = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + MOTO_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                httpx.get(url + "/moto-api/", timeout=1, trust_env=False)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer within {MOTO_START_SECONDS} s")
                time.sleep(0.05)
        yield MotoServer(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
