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
