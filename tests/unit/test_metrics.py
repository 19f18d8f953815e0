"""The metric families built from a database snapshot, without a database."""

from __future__ import annotations

from studio.monitoring.metrics import Metrics, database_families


def _samples(families) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def test_a_database_that_did_not_answer_is_reported_as_down_and_nothing_else():
    samples = _samples(database_families(None, backup_enabled=False))
    assert samples == {("studio_database_up", ()): 0, ("studio_backup_enabled", ()): 0}


def test_empty_tables_and_missing_figures_give_zeros_not_errors():
    snapshot = {"queue": [], "ended": [], "backups": {}, "connections": {"active": 2},
                "database": {"blks_hit": 0, "blks_read": 0},
                "tables": [{"table": "public.jobs", "live": 0, "dead": 0, "seq_scan": 1, "idx_scan": 0}]}
    samples = _samples(database_families(snapshot, backup_enabled=True))
    assert samples[("studio_database_up", ())] == 1
    assert samples[("studio_db_table_dead_ratio", (("table", "public.jobs"),))] == 0
    assert samples[("studio_db_cache_hit_ratio", ())] == 1.0
    assert samples[("studio_db_connections", (("state", "active"),))] == 2
    assert samples[("studio_db_connections", (("state", "idle in transaction"),))] == 0
    assert samples[("studio_backup_last_success_age_seconds", ())] == float("inf")
    assert not any(name == "studio_backup_last_succeeded" for name, _ in samples)
    assert "studio_db_size_bytes" not in {name for name, _ in samples}


def test_the_registry_renders_request_metrics_with_bounded_labels():
    metrics = Metrics()
    for status in (200, 200, 404):
        metrics.observe("/v1/things/{thing_id}", "GET", status, 0.003)
    text = metrics.render().decode()
    assert 'studio_http_requests_total{method="GET",route="/v1/things/{thing_id}",status="200"} 2.0' in text
    assert 'studio_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/things/{thing_id}",' \
           'status="404"} 1.0' in text
    assert "_created" not in text
