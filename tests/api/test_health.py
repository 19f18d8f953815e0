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
