"""Fixtures of the backup tests: embedded clusters that archive their WAL with
pgBackRest, each in a home of its own, stopped and removed afterwards (also on
failure), and HTTPS for the S3 repository (tests/tls_s3.py).

The session's `pg` cluster (tests/conftest.py) does not archive: never back it up.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from studio.config import Settings
from studio.db.embedded import SUPERUSER, EmbeddedCluster
from studio.ops.backup import PgBackRest, pgbackrest_binary
from tests.conftest import free_port
from tests.tls_s3 import TLS_HOST_NAME, TlsS3, tls_s3  # noqa: F401 - the fixture, for this directory

# A row of public.t holds this marker; it must never show up in an encrypted repository.
PLAINTEXT_MARKER = "studio-plaintext-marker-7f3c9a"


@dataclass
class BackedUpCluster:
    """A running, archiving cluster with a stanza in every configured repository."""

    home: Path
    settings: Settings
    cluster: EmbeddedCluster
    backrest: PgBackRest
    password: str

    def conninfo(self, dbname: str = "postgres") -> str:
        return self.cluster.conninfo(SUPERUSER, self.password, dbname)

    def execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def count(self) -> int:
        """Rows of public.t, the test table."""
        return int(self.execute("SELECT count(*) FROM public.t")[0][0])

    def insert(self, rows: int, payload: str = "") -> None:
        """Rows of (mostly) incompressible text, so relation files have a real size."""
        self.execute("INSERT INTO public.t (payload)"
                     " SELECT %s || md5(random()::text) || md5(random()::text) FROM generate_series(1, %s)",
                     (payload, rows))


def remove_cluster(cluster: EmbeddedCluster, home: Path) -> None:
    """Stop (immediately) and remove a cluster and its home, relocated or not."""
    try:
        if cluster.is_initialized():
            cluster.stop(mode="immediate")
    finally:
        pg_dir = cluster.pg_dir
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def backed_up_cluster(home: Path, *, rows: int = 1000, **overrides: Any) -> Iterator[BackedUpCluster]:
    """A fresh embedded cluster in `home` archiving with pgBackRest (settings
    `overrides` such as backup_s3_*), its stanza created, and public.t holding `rows`
    rows (one of them carrying PLAINTEXT_MARKER)."""
    pgbackrest_binary()  # a clear error when pgBackRest is missing
    password = secrets.token_urlsafe(24)
    settings = Settings(env="test", home=home, **overrides)
    # fsync off: a crashed test cluster is thrown away anyway.
    cluster = EmbeddedCluster(home, port=free_port(), settings={"fsync": "off"})
    backrest = PgBackRest(settings, cluster, password)
    cluster.settings.update(backrest.server_settings())
    try:
        cluster.init(password)
        cluster.start()
        backrest.ensure_stanza()
        source = BackedUpCluster(home, settings, cluster, backrest, password)
        source.execute("CREATE TABLE public.t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                       " payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        source.execute("INSERT INTO public.t (payload) VALUES (%s)", (PLAINTEXT_MARKER,))
        source.insert(rows - 1)
        yield source
    finally:
        remove_cluster(cluster, home)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackedUpCluster]:
    """One archiving cluster with a local repository, shared by a module's tests
    (which must leave its data and repository intact)."""
    with backed_up_cluster(tmp_path_factory.mktemp("backed-up") / "home") as cluster:
        yield cluster


# --------------------------------------------------------------------------- S3 over TLS
#
# pgBackRest only speaks HTTPS to S3. moto_server's own TLS (-c/-k) does not work with
