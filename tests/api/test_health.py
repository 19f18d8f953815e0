"""Liveness and readiness (F23)."""

from __future__ import annotations

from studio.config import OWNER_ROLE
from studio.db import migrate


def test_healthz(anon):
    assert anon.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_migration_head(server, anon, pg, db):
    ready = anon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["migrations"]["current"] == migrate.head_revision()

    migrate.downgrade(pg.conninfo(OWNER_ROLE, db), "-1")
    behind = anon.get("/readyz")
    assert behind.status_code == 503
    assert behind.json()["checks"]["migrations"]["status"] == "behind"

    migrate.upgrade(pg.conninfo(OWNER_ROLE, db))
    assert anon.get("/readyz").status_code == 200


def test_every_response_carries_a_request_id(anon):
    r = anon.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = anon.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_readyz_shows_the_backups_without_changing_readiness(server, admin_conn):
    def backups() -> dict:
        with server.client() as c:
            response = c.get("/readyz")
        assert response.status_code == 200, response.text  # backups never change readiness
        return response.json()["checks"]["backups"]

    assert backups()["status"] == "none"
    admin_conn.execute("INSERT INTO backup_runs (kind, backup_type, status, finished_at)"
                       " VALUES ('backup', 'full', 'succeeded', now())")
    ok = backups()
    assert ok["status"] == "ok" and ok["last_backup"]["type"] == "full" and ok["last_successful_backup_at"]
    admin_conn.execute("INSERT INTO backup_runs (kind, status, error, finished_at)"
                       " VALUES ('drill', 'failed', 'checksum mismatch in public.users', now())")
    failing = backups()
    assert failing["status"] == "failing" and failing["last_drill"]["status"] == "failed"
    assert "checksum" not in str(failing)  # details and errors stay with the admins
    admin_conn.execute("DELETE FROM backup_runs")
    admin_conn.execute("INSERT INTO backup_runs (kind, backup_type, status, started_at, finished_at)"
                       " VALUES ('backup', 'diff', 'succeeded', now() - interval '3 days', now() - interval '3 days')")
    assert backups()["status"] == "stale"


def test_production_tells_anonymous_callers_only_whether_it_is_ready(pg, db, tmp_path):
    """The checks behind readiness (schema revision, backups) are for the monitoring
    system's token and the admins' ops page; a stranger learns ready or not."""
    from pydantic import SecretStr

    from studio.config import API_ROLE
    from tests.api.conftest import make_settings, serve

    token = "monitor-" + "m" * 24
    served = serve(make_settings(env="production", home=tmp_path, metrics_token=SecretStr(token)),
                   pg.conninfo(API_ROLE, db))
    production = next(served)
    try:
        with production.client() as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
                r = client.get("/readyz", headers=headers)
                assert r.status_code == 200 and r.json() == {"status": "ready"}, (headers, r.text)
                assert r.headers["cache-control"] == "no-store"
            detailed = client.get("/readyz", headers={"Authorization": f"Bearer {token}"}).json()
            assert detailed["status"] == "ready"
            assert detailed["checks"]["migrations"]["current"] == migrate.head_revision()
            assert detailed["checks"]["backups"]["status"] == "none"

            migrate.downgrade(pg.conninfo(OWNER_ROLE, db), "-1")
            behind = client.get("/readyz")
            assert behind.status_code == 503 and behind.json() == {"status": "not_ready"}
            migrate.upgrade(pg.conninfo(OWNER_ROLE, db))
    finally:
        served.close()
