"""Monitoring (F7, F23) over HTTP: /metrics in the Prometheus text format, with every
family docs/operations/monitoring.md describes and plausible values, optionally behind
a token; the admins' view of pg_stat_statements."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from pydantic import SecretStr

from studio.config import API_ROLE
from studio.monitoring.metrics import UNMATCHED
from studio.monitoring.schemas import OpsSummary
from tests.api.conftest import Account, Server, make_settings, serve
from tests.api.test_generations import model_id

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(client: httpx.Client, **headers: str) -> Samples:
    """Every sample of one scrape: sample name -> sorted labels -> value."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    assert name in samples, f"{name} is not exposed; exposed: {sorted(samples)}"
    key = tuple(sorted(labels.items()))
    assert key in samples[name], f"{name}{labels} not found among {list(samples[name])}"
    return samples[name][key]


def request_count(samples: Samples, route: str, method: str, status: str) -> float:
    return samples.get("studio_http_request_duration_seconds_count", {}).get(
        (("method", method), ("route", route), ("status", status)), 0.0)


def test_metrics_expose_every_family_with_plausible_values(server: Server, alice: Account, anon, admin_conn):
    created = alice.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(alice, "espeak-en"),
                                                         "prompt": "a private prompt nobody else may read"})
    assert created.status_code == 202, created.text
    generation_id = created.json()["id"]
    route = "/v1/generations/{generation_id}"

    before = scrape(anon)
    # The queue (no worker runs here): the job waits, and its age is counted.
    assert value(before, "studio_jobs_queue_depth", kind="generation", status="queued") == 1
    assert value(before, "studio_jobs_queue_depth", kind="generation", status="running") == 0
    assert value(before, "studio_jobs_queue_depth", kind="training", status="queued") == 0
    assert value(before, "studio_jobs_oldest_age_seconds", kind="generation", status="queued") >= 0

    for _ in range(3):
        assert alice.client.get(f"/v1/generations/{generation_id}").status_code == 200
    after = scrape(anon)
    assert request_count(after, route, "GET", "200") == request_count(before, route, "GET", "200") + 3
    assert value(after, "studio_http_requests_total", route=route, method="GET", status="200") >= 3
    assert value(after, "studio_http_request_duration_seconds_bucket", route=route, method="GET", status="200",
                 le="+Inf") >= 3
    assert value(after, "studio_http_requests_total", route="/v1/generations", method="POST", status="202") == 1
    # Route templates only: no label holds an id.
    labels = {v for series in after.values() for key in series for _, v in key}
    assert not any(generation_id in label for label in labels)
    assert value(after, "studio_http_requests_in_progress") >= 1  # this scrape

    # The API's pool.
    assert value(after, "studio_db_pool_size") >= 1
    assert value(after, "studio_db_pool_max") == server.settings.pool_max_size
    assert 0 <= value(after, "studio_db_pool_in_use") <= value(after, "studio_db_pool_size")
    assert value(after, "studio_db_pool_waiting") == 0
    # Counted since the process started: each GET borrowed a connection (and each scrape).
    assert value(after, "studio_db_pool_requests_total") >= value(before, "studio_db_pool_requests_total") + 3
    # One process: its own figures, with the standard process metrics.
    assert value(after, "studio_api_processes") == 1
    assert value(after, "process_resident_memory_bytes") > 0

    # The database. Statistics counters reach shared memory up to seconds late, so
    # those only have to be there.
    assert value(after, "studio_database_up") == 1
    assert sum(after["studio_db_connections"].values()) >= 1
    for state in ("active", "idle", "idle in transaction"):
        assert value(after, "studio_db_connections", state=state) >= 0
    assert value(after, "studio_db_cluster_connections") >= sum(after["studio_db_connections"].values())
    assert value(after, "studio_db_max_connections") >= 10
    assert value(after, "studio_db_lock_waiting_sessions") == 0
    assert value(after, "studio_db_oldest_transaction_seconds") >= 0
    assert value(after, "studio_db_deadlocks_total") == 0
    assert value(after, "studio_db_blocks_hit_total") >= 0 and value(after, "studio_db_blocks_read_total") >= 0
    assert 0 <= value(after, "studio_db_cache_hit_ratio") <= 1
    assert value(after, "studio_db_transactions_total", outcome="commit") >= 0
    assert value(after, "studio_db_temp_bytes_total") >= 0
    assert value(after, "studio_db_size_bytes") > 1_000_000  # pg_read_all_stats: studio_system sees it
    assert value(after, "studio_db_table_live_rows", table="public.users") >= 0
    assert 0 <= value(after, "studio_db_table_dead_ratio", table="public.jobs") <= 1
    assert value(after, "studio_db_table_scans_total", table="public.jobs", kind="seq") >= 0
    assert value(after, "studio_db_table_scans_total", table="public.users", kind="index") >= 0
    assert not any(key[0][1].startswith("pg_catalog.") for key in after["studio_db_table_dead_ratio"])

    # Backups: none yet (ages +Inf, no outcome), then a good backup and a failed drill.
    assert value(after, "studio_backup_enabled") == 1
    assert value(after, "studio_backup_last_success_age_seconds") == float("inf")
    assert "studio_backup_last_succeeded" not in after
    admin_conn.execute("INSERT INTO backup_runs (kind, backup_type, status, started_at, finished_at)"
                       " VALUES ('backup', 'full', 'succeeded', now() - interval '1 hour', now() - interval '50 minutes')")
    admin_conn.execute("INSERT INTO backup_runs (kind, status, error, finished_at)"
                       " VALUES ('drill', 'failed', 'checksum mismatch in public.users', now())")
    # A job that ended: in the 5-minute window, with its duration.
    admin_conn.execute("UPDATE jobs SET status = 'succeeded', created_at = now() - interval '3 seconds'")

    def ages() -> tuple[float, float, float]:
        """What the scrape should report, by the database's clock: the backup's age,
        the drill's, and the job's duration."""
        return admin_conn.execute(
            "SELECT extract(epoch FROM now() - (SELECT finished_at FROM backup_runs WHERE kind = 'backup')),"
            "       extract(epoch FROM now() - (SELECT finished_at FROM backup_runs WHERE kind = 'drill')),"
            "       (SELECT extract(epoch FROM updated_at - created_at) FROM jobs)").fetchone()

    before = ages()
    samples = scrape(anon)
    after = ages()
    assert before[0] <= value(samples, "studio_backup_last_success_age_seconds") <= after[0]
    assert value(samples, "studio_backup_last_succeeded") == 1
    assert value(samples, "studio_backup_last_drill_succeeded") == 0
    assert before[1] <= value(samples, "studio_backup_last_drill_age_seconds") <= after[1]
    assert value(samples, "studio_jobs_queue_depth", kind="generation", status="queued") == 0
    assert value(samples, "studio_jobs_ended_5m", kind="generation", status="succeeded") == 1
    for stat in ("p50", "p95", "max"):
        duration = value(samples, "studio_jobs_duration_5m_seconds", kind="generation", status="succeeded",
                         stat=stat)
        assert duration == pytest.approx(float(before[2]), abs=0.01)

    # Aggregates only: nothing of a user's, nor a backup's error.
    text = anon.get("/metrics").text
    for private in ("private prompt", alice.email, alice.id, "checksum mismatch"):
        assert private not in text


def test_unknown_paths_share_one_label_and_refused_requests_are_counted(server: Server, anon):
    # Unknown paths outside the API are the web app's client-side routes (it shows its own
    # not-found page); unknown API paths are 404. Neither gets a label of its own.
    for path in ("/nope/1", "/nope/2"):
        page = anon.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert anon.get("/v1/generations/not-a-route/at/all").status_code == 404
    # Refused by RequestGuard before routing: counted, its status says why.
    refused = anon.post("/v1/auth/login", content=b"email=x", headers={"content-type": "text/plain"})
    assert refused.status_code == 415
    assert anon.get("/static/nothing-here.css").status_code == 404
    samples = scrape(anon)
    assert value(samples, "studio_http_requests_total", route=UNMATCHED, method="GET", status="200") == 2
    assert value(samples, "studio_http_requests_total", route=UNMATCHED, method="GET", status="404") == 1
    assert value(samples, "studio_http_requests_total", route=UNMATCHED, method="POST", status="415") == 1
    assert value(samples, "studio_http_requests_total", route="/static", method="GET", status="404") == 1
    routes = {dict(key)["route"] for key in samples["studio_http_requests_total"]}
    assert not any(route.startswith("/nope") for route in routes), routes


@pytest.fixture
def guarded(pg, db, tmp_path) -> Iterator[Server]:
    settings = make_settings(home=tmp_path, metrics_token=SecretStr("metrics-" + "t" * 24))
    yield from serve(settings, pg.conninfo(API_ROLE, db))


def test_a_metrics_token_is_required_when_set(guarded: Server):
    with guarded.client() as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic metrics-" + "t" * 24},
                        {"Authorization": "Bearer metrics-" + "t" * 23}):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.json()["error"]["code"] == "unauthenticated"
            assert r.headers["www-authenticate"] == "Bearer"
            assert "studio_" not in r.text
        samples = scrape(client, Authorization="Bearer metrics-" + "t" * 24)
        assert value(samples, "studio_database_up") == 1
        assert value(samples, "studio_http_requests_total", route="/metrics", method="GET", status="401") == 4


# --------------------------------------------------------------------------- statements


def test_statements_are_for_admins_only(server: Server, alice: Account, bob: Account, anon, admin_conn, pg, db):
    for _ in range(3):
        assert alice.client.get("/v1/conversations").status_code == 200

    for params in ({}, {"order": "calls"}, {"order": "bogus"}, {"limit": 1000}):
        r = alice.client.get("/v1/admin/statements", params=params)
        assert r.status_code == 404, (params, r.text)
        assert r.json()["error"]["code"] == "not_found"
    assert anon.get("/v1/admin/statements").status_code == 401

    # A utility statement keeps its literal in pg_stat_statements; the view masks it.
    with psycopg.connect(pg.conninfo(API_ROLE, db), autocommit=True) as conn:
        conn.execute(sql.SQL("SET application_name = {}").format(sql.Literal(f"leak {alice.email}")))

    # The role is read from the database at every request: no new login needed.
    admin_conn.execute("UPDATE public.users SET role = 'admin' WHERE id = %s", (alice.id,))
    r = alice.client.get("/v1/admin/statements", params={"order": "calls", "limit": 100})
    assert "SET application_name = ?" in [item["query"] for item in r.json()["items"]], r.text
    assert alice.email not in r.text
    r = alice.client.get("/v1/admin/statements", params={"order": "calls", "limit": 50})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["order"] == "calls" and body["limit"] == 50
    items = body["items"]
    assert 0 < len(items) <= 50
    assert set(items[0]) == {"query", "calls", "total_ms", "mean_ms", "max_ms", "rows", "shared_blks_hit",
                             "shared_blks_read"}
    calls = [item["calls"] for item in items]
    assert calls == sorted(calls, reverse=True)
    assert any("conversations" in item["query"] for item in items), [item["query"] for item in items]
    for item in items:
        assert item["calls"] >= 1 and item["total_ms"] >= 0 and item["max_ms"] >= item["mean_ms"] - 1e-6
        # Normalized, parameterized statements: no user's values in them.
        assert alice.email not in item["query"] and alice.id not in item["query"]

    for order, key in (("total_time", "total_ms"), ("mean_time", "mean_ms")):
        r = alice.client.get("/v1/admin/statements", params={"order": order, "limit": 5})
        assert r.status_code == 200, r.text
        values = [item[key] for item in r.json()["items"]]
        assert 0 < len(values) <= 5 and values == sorted(values, reverse=True)

    for params in ({"order": "bogus"}, {"limit": 0}, {"limit": 101}):
        r = alice.client.get("/v1/admin/statements", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "validation_error"

    # Bob is still no admin.
    assert bob.client.get("/v1/admin/statements").status_code == 404

    # Without the extension (an external cluster nobody set up): 503, said plainly.
    admin_conn.execute("DROP EXTENSION pg_stat_statements")
    r = alice.client.get("/v1/admin/statements")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable" and "pg_stat_statements" in r.json()["error"]["message"]


def test_the_statements_function_answers_admins_only(server: Server, alice: Account, pg, db, admin_conn):
    """The database keeps the rule by itself: as authenticated, a non-admin's call
    returns nothing, and an unknown order raises."""
    def call(role: str, order: str = "calls") -> list:
        with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
            conn.execute("SELECT set_config('role', 'authenticated', true), set_config('studio.user_id', %s, true),"
                         " set_config('studio.user_role', %s, true)", (alice.id, role))
            return conn.execute("SELECT * FROM public.top_statements(%s, 10)", (order,)).fetchall()

    assert alice.client.get("/v1/conversations").status_code == 200
    assert call("user") == []
    assert call("admin")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        call("admin", "rows")


# --------------------------------------------------------------------------- the ops page


def test_ops_summary_is_for_admins_only_and_shows_no_users_content(server: Server, alice: Account, bob: Account,
                                                                    anon, admin_conn):
    r = alice.client.get("/v1/admin/ops")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert anon.get("/v1/admin/ops").status_code == 401

    # Somebody's private things, and the admin's own.
    created = bob.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(bob, "espeak-en"),
                                                       "prompt": "a private prompt nobody else may read"})
    assert created.status_code == 202, created.text
    assert bob.client.post("/v1/conversations", json={"title": "bob's secret title"}).status_code == 201
    admin_conn.execute("UPDATE public.users SET role = 'admin' WHERE id = %s", (alice.id,))

    r = alice.client.get("/v1/admin/ops")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    OpsSummary.model_validate(body)  # the documented shape
    assert set(body) == {"generated_at", "readiness", "audit", "backups", "queue", "workers", "pool"}

    # Readiness: what /readyz says.
    readyz = anon.get("/readyz").json()
    assert body["readiness"]["status"] == "ready" == readyz["status"]
    assert body["readiness"]["checks"] == readyz["checks"]
    assert body["readiness"]["checks"]["migrations"]["status"] == "ok"

    # The audit is not run by the API: said so, and how to run it.
    audit = body["audit"]
    assert audit["available"] is False and audit["score"] is None and audit["failing"] == []
    assert "studio audit" in audit["message"]

    # The queue: every kind; Bob's job waits, due.
    queue = {q["kind"]: q for q in body["queue"]}
    assert set(queue) == {"generation", "training", "storage_cleanup", "maintenance", "conversation_title"}
    assert {k: (q["queued"], q["due"], q["running"]) for k, q in queue.items()} == {
        "generation": (1, 1, 0), "training": (0, 0, 0), "storage_cleanup": (0, 0, 0), "maintenance": (0, 0, 0),
        "conversation_title": (0, 0, 0)}
    assert queue["generation"]["oldest_queued_age_seconds"] >= 0
    assert queue["training"]["oldest_queued_age_seconds"] is None

    # This process's pool (the test's server runs in this process).
    pool = body["pool"]
    assert pool["process_id"] == os.getpid()
    assert pool["max_size"] == server.settings.pool_max_size and 1 <= pool["size"] <= pool["max_size"]
    assert pool["in_use"] == pool["size"] - pool["available"] and pool["requests_total"] >= 1
    assert pool["requests_waiting"] == 0

    assert body["backups"] == {"enabled": True, "last_backup": None, "last_drill": None}

    # Waiting since its run_after; a job in its backoff is queued but not due.
    admin_conn.execute("UPDATE jobs SET run_after = now() - interval '90 seconds'")
    admin_conn.execute("INSERT INTO jobs (kind, status, run_after) VALUES ('maintenance', 'queued', now() + interval '1 hour'),"
                       " ('maintenance', 'running', now())")
    admin_conn.execute("INSERT INTO backup_runs (kind, backup_type, status, started_at, finished_at)"
                       " VALUES ('backup', 'full', 'failed', now() - interval '3 hours', now() - interval '2 hours'),"
                       "        ('backup', 'incr', 'succeeded', now() - interval '70 minutes', now() - interval '60 minutes')")
    admin_conn.execute("INSERT INTO backup_runs (kind, status, error, started_at, finished_at)"
                       " VALUES ('drill', 'failed', 'checksum mismatch in public.users', now() - interval '1 day',"
                       "         now() - interval '23 hours')")
    admin_conn.execute("INSERT INTO backup_runs (kind, status) VALUES ('drill', 'running')")
    body = alice.client.get("/v1/admin/ops").json()
    OpsSummary.model_validate(body)
    queue = {q["kind"]: q for q in body["queue"]}
    assert 90 <= queue["generation"]["oldest_queued_age_seconds"] < 150
    assert (queue["maintenance"]["queued"], queue["maintenance"]["due"], queue["maintenance"]["running"]) == (1, 0, 1)
    assert queue["maintenance"]["oldest_queued_age_seconds"] is None
    backup, drill = body["backups"]["last_backup"], body["backups"]["last_drill"]
    assert (backup["status"], backup["backup_type"], backup["trigger"]) == ("succeeded", "incr", "manual")
    assert backup["duration_seconds"] == pytest.approx(600, abs=1) and backup["error"] is None
    assert drill["status"] == "running" and drill["finished_at"] is None and drill["duration_seconds"] is None
    # /readyz's summary still names the last finished drill, which failed.
    assert body["readiness"]["checks"]["backups"]["status"] == "failing"

    # The workers' nodes: what each offers, and whether it counts as live.
    assert body["workers"] == []
    admin_conn.execute(
        "INSERT INTO node_resources (name, status, capabilities, last_heartbeat_at) VALUES"
        " ('gpu-1', 'online', '{\"provides\": [\"diffusers\", \"espeak\"]}', now() - interval '5 seconds'),"
        " ('cpu-1', 'online', '{\"provides\": [\"espeak\"]}', now() - interval '10 minutes'),"
        " ('old-1', 'draining', '{}', NULL)")
    workers = alice.client.get("/v1/admin/ops").json()["workers"]
    assert [(w["name"], w["status"], w["provides"], w["live"]) for w in workers] == [
        ("cpu-1", "online", ["espeak"], False), ("gpu-1", "online", ["diffusers", "espeak"], True),
        ("old-1", "draining", [], False)]

    # Counts, states and operational records: nobody's content.
    text = alice.client.get("/v1/admin/ops").text
    for private in ("private prompt", "secret title", bob.email, bob.id, alice.email, created.json()["id"]):
        assert private not in text

    assert bob.client.get("/v1/admin/ops").status_code == 404


def test_the_ops_page_shows_the_latest_stored_audit(server: Server, alice: Account, bob: Account, pg, db,
                                                    admin_conn):
    """`studio audit` stores each run as studio_owner (audit.service.store_run, what the
    CLI calls); GET /v1/admin/ops shows the latest to admins, with its failing checks,
    worst first. Only the latest KEEP_RUNS are kept, and no user reads the table."""
    from studio.audit import report
    from studio.audit import service as audit_service
    from studio.audit.checks import Check
    from studio.config import OWNER_ROLE

    def run(*checks: Check) -> report.Report:
        result = report.build(list(checks))
        with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as conn:  # commits on leaving
            audit_service.store_run(conn, result, exit_code=result.exit_code(8.0))
        return result

    def check(id_: str, status: str, severity: str) -> Check:
        return Check(id_, "Area", f"check {id_}", severity, status, f"{id_} detail",  # type: ignore[arg-type]
                     action=f"fix {id_}" if status != "pass" else "", risk="risk")

    admin_conn.execute("UPDATE public.users SET role = 'admin' WHERE id = %s", (alice.id,))
    for _ in range(audit_service.KEEP_RUNS + 1):
        run(check("K1", "pass", "high"))
    latest = run(check("K1", "pass", "high"), check("F6", "warn", "medium"), check("F3", "fail", "critical"),
                 check("F9", "error", "high"))
    assert admin_conn.execute("SELECT count(*), count(*) FILTER (WHERE exit_code = 1) FROM audit_runs"
                              ).fetchone() == (audit_service.KEEP_RUNS, 1)

    body = alice.client.get("/v1/admin/ops").json()
    OpsSummary.model_validate(body)
    audit = body["audit"]
    assert audit["available"] is True and audit["message"] is None
    assert audit["score"] == round(latest.score, 1) and audit["status"] == "NOT PRODUCTION READY"
    assert audit["blocking"] == ["F3"]
    assert audit["generated_at"].replace("Z", "+00:00") == latest.generated_at.isoformat()
    assert [(c["id"], c["status"], c["action"]) for c in audit["failing"]] == [
        ("F3", "fail", "fix F3"), ("F9", "error", "fix F9"), ("F6", "warn", "fix F6")]
    assert "risk" not in audit["failing"][0]

    # Not for users: the endpoint is hidden, and the table is not theirs to read.
    assert bob.client.get("/v1/admin/ops").status_code == 404
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
        conn.execute("SELECT set_config('role', 'authenticated', true), set_config('studio.user_id', %s, true),"
                     " set_config('studio.user_role', 'user', true)", (bob.id,))
        assert conn.execute("SELECT count(*) FROM public.audit_runs").fetchone()[0] == 0
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
        conn.execute("SELECT set_config('role', 'anon', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM public.audit_runs")
    # Admins read; nobody at run time changes a stored run, the owner included.
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
        conn.execute("SELECT set_config('role', 'authenticated', true), set_config('studio.user_id', %s, true),"
                     " set_config('studio.user_role', 'admin', true)", (alice.id,))
        assert conn.execute("SELECT count(*) FROM public.audit_runs").fetchone()[0] == audit_service.KEEP_RUNS
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM public.audit_runs")
    with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as conn:
        assert conn.execute("UPDATE public.audit_runs SET score = 10").rowcount == 0


def test_the_queue_summary_function_answers_admins_only(server: Server, alice: Account, pg, db):
    """The database keeps the rule by itself: as authenticated, a non-admin's call
    returns no row; an admin's, every kind."""
    def call(role: str) -> list:
        with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
            conn.execute("SELECT set_config('role', 'authenticated', true), set_config('studio.user_id', %s, true),"
                         " set_config('studio.user_role', %s, true)", (alice.id, role))
            return conn.execute("SELECT kind FROM public.queue_summary()").fetchall()

    assert call("user") == []
    assert [row[0] for row in call("admin")] == ["conversation_title", "generation", "maintenance", "storage_cleanup",
                                                "training"]
