"""Monitoring (F7, F23): Prometheus metrics at /metrics and pg_stat_statements for admins
(docs/operations/monitoring.md)."""
