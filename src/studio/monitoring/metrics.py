"""Prometheus metrics (F7, F23): HTTP requests, the API's pool, and the database.

Three sources, one exposition:

* `HttpMetrics`, a pure ASGI middleware, times every request from its arrival until the
  response's status line and headers go out, labelled by the route *template*
  (`/v1/generations/{generation_id}`, never the raw path: a scanner trying random URLs
  must not create a series per URL, and ids are nobody's business), the method and the
  status. Streamed bodies (event streams, downloads, exports) are not included: their
  length is the client's, not the server's latency.
* `Metrics.sample_pool()` copies the API pool's `get_stats()` into gauges and counters:
  at every scrape, and every second in each process when several serve the API.
* `database_families()` turns `public.metrics_snapshot()` (one SECURITY DEFINER call,
  aggregates only) into metric families, at scrape time.

Each app has its own registry (tests run many apps in one process). With several API
processes (STUDIO_API_WORKERS > 1) a scrape reaches one of them, so every process writes
its values to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode,
which `studio api` turns on) and the scrape adds them up: request counts and latencies,
requests in progress, the pools. Per-process CPU and memory (process_*) are then left
out, since they would describe whichever process answered. The names and what to alert
on are in docs/operations/monitoring.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.process_collector import ProcessCollector
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `*_created` series double every counter and histogram for a timestamp nobody alerts on.
disable_created_metrics()

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# From 1 ms (an anon GET) to 30 s (a request that waited for the pool and then timed out).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
# Connection states pg_stat_activity knows; reported as 0 when no session is in them.
CONNECTION_STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")


def multiprocess_dir() -> str | None:
    """Where the API's processes share their metrics, when there are several."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The app's registry, the request metrics the middleware updates and the pool's."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram("studio_http_request_duration_seconds",
                                 "Time from a request's arrival until its response headers were sent.",
                                 ("route", "method", "status"), registry=self.registry, buckets=LATENCY_BUCKETS)
        self.requests = Counter("studio_http_requests", "HTTP requests answered.",
                                ("route", "method", "status"), registry=self.registry)
        self.in_progress = Gauge("studio_http_requests_in_progress",
                                 "Requests being handled now (open event streams included).", registry=self.registry,
                                 multiprocess_mode="livesum")
        self.processes = Gauge("studio_api_processes", "API processes serving (STUDIO_API_WORKERS).",
                               registry=self.registry, multiprocess_mode="livesum")
        self.processes.set(1)
        self.pool = _PoolMetrics(self.registry)
        if not self.multiprocess:
            ProcessCollector(registry=self.registry)
        # (route, method, status) -> (histogram child, counter child): labels() takes a
        # lock and builds a key every time; the cache makes a request one dict lookup.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, str(status))
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.latency.labels(*key), self.requests.labels(*key))
        children[0].observe(seconds)
        children[1].inc()

    def sample_pool(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool.sample(pool.get_stats())

    def process_exited(self) -> None:
        """This process stops serving: its live gauges leave the sums (its counts stay)."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())

    def render(self, extra: Iterable[Metric] = ()) -> bytes:
        """The metrics of every API process plus `extra` (this scrape's database families)."""
        if self.multiprocess:
            _forget_dead_processes()
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return generate_latest(_Scrape(registry, list(extra)))


def _forget_dead_processes() -> None:
    """A process that was killed (uvicorn starts another in its place) could not say it
    stopped: its live gauges (requests in progress, its pool, studio_api_processes) would
    stay in the sums. Each live gauge's file is named after its process id."""
    directory = multiprocess_dir()
    assert directory is not None
    pids = {int(path.stem.rpartition("_")[2]) for path in Path(directory).glob("gauge_live*_*.db")
            if path.stem.rpartition("_")[2].isdigit()}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, someone else's


class _Scrape:
    def __init__(self, registry: CollectorRegistry, extra: list[Metric]) -> None:
        self.registry, self.extra = registry, extra

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.extra


# --------------------------------------------------------------------------- HTTP


class HttpMetrics:
    """Pure ASGI middleware (like RequestGuard: no task per request). Outermost, so that
    requests refused before routing (413, 415) are counted too."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        root_path = scope.get("root_path", "")
        recorded = False

        async def timed_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                self.metrics.observe(_route(scope, root_path), method, message["status"], time.perf_counter() - started)
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            if not recorded:  # the server answers 500 on the app's behalf
                recorded = True
                self.metrics.observe(_route(scope, root_path), method, 500, time.perf_counter() - started)
            raise
        finally:
            self.metrics.in_progress.dec()


def _route(scope: Scope, root_path: str) -> str:
    """The template of the route the router chose (it records the route in the scope,
    which every middleware shares), or the prefix of a mounted app (/static: a mount
    extends the scope's root_path). A request no route handled (an unknown path, or a
    body RequestGuard refused before routing: the status tells which) is `<unmatched>`,
    one series however many paths are tried."""
    template = getattr(scope.get("route"), "path", None)
    if template:
        return template
    mounted = scope.get("root_path", "")
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path):]
    return UNMATCHED


# --------------------------------------------------------------------------- pool


class _PoolMetrics:
    """The API pool's state (psycopg_pool's get_stats()), as instruments that add up
    across processes. Its counters count since the process started; each sample adds
    what they grew by since the previous one."""

    _GAUGES = (  # metric, help, stats key ("in_use" is derived)
        ("studio_db_pool_size", "Connections the pools hold now (in use and idle).", "pool_size"),
        ("studio_db_pool_max", "The most connections the pools may open (STUDIO_POOL_MAX_SIZE per API process).",
         "pool_max"),
        ("studio_db_pool_in_use", "Connections lent out to requests now.", "in_use"),
        ("studio_db_pool_waiting", "Requests waiting for a connection now.", "requests_waiting"),
    )
    _COUNTERS = (  # metric, help, stats keys summed, scale
        ("studio_db_pool_requests", "Connections requested from the pool.", ("requests_num",), 1),
        ("studio_db_pool_requests_queued", "Requests that had to wait for a connection.", ("requests_queued",), 1),
        ("studio_db_pool_wait_seconds", "Time requests spent waiting for a connection.", ("requests_wait_ms",),
         1 / 1000),
        ("studio_db_pool_timeouts", "Requests that gave up waiting (answered 503).", ("requests_errors",), 1),
        ("studio_db_pool_connections_lost", "Connections found broken and discarded.",
         ("connections_lost", "returns_bad"), 1),
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauges = {key: Gauge(name, doc, registry=registry, multiprocess_mode="livesum")
                       for name, doc, key in self._GAUGES}
        self.counters = [(Counter(name, doc, registry=registry), keys, scale)
                         for name, doc, keys, scale in self._COUNTERS]
        self._seen: dict[str, float] = {}

    def sample(self, stats: dict[str, int]) -> None:
        stats = {**stats, "in_use": stats.get("pool_size", 0) - stats.get("pool_available", 0)}
        for key, gauge in self.gauges.items():
            gauge.set(stats.get(key, 0))
        for counter, keys, scale in self.counters:
            for key in keys:
                value = stats.get(key, 0)
                if value > self._seen.get(key, 0):
                    counter.inc((value - self._seen.get(key, 0)) * scale)
                self._seen[key] = value


# --------------------------------------------------------------------------- database


def database_families(snapshot: dict[str, Any] | None, *, backup_enabled: bool) -> list[Metric]:
    """Metric families of one `public.metrics_snapshot()`; None when the database could
    not be asked (then only studio_database_up says so)."""
    up = GaugeMetricFamily("studio_database_up", "1 when the metrics snapshot was read from the database.",
                           value=0 if snapshot is None else 1)
    enabled = GaugeMetricFamily("studio_backup_enabled", "1 when Studio runs the backups of its database.",
                                value=1 if backup_enabled else 0)
    if snapshot is None:
        return [up, enabled]
    families: list[Metric] = [up, enabled]

    depth = GaugeMetricFamily("studio_jobs_queue_depth", "Jobs in a state now.", labels=("kind", "status"))
    oldest = GaugeMetricFamily("studio_jobs_oldest_age_seconds",
                               "Queued: how long the oldest due job has waited; running: age of the oldest "
                               "running job since it was enqueued.", labels=("kind", "status"))
    for row in snapshot.get("queue", []):
        depth.add_metric((row["kind"], row["status"]), row["depth"])
        oldest.add_metric((row["kind"], row["status"]), row["oldest_age_seconds"])
    ended = GaugeMetricFamily("studio_jobs_ended_5m", "Jobs that ended in the last 5 minutes.",
                              labels=("kind", "status"))
    duration = GaugeMetricFamily("studio_jobs_duration_5m_seconds",
                                 "Enqueue-to-end time of the jobs that ended in the last 5 minutes: "
                                 "stat p50, p95 or max.", labels=("kind", "status", "stat"))
    for row in snapshot.get("ended", []):
        ended.add_metric((row["kind"], row["status"]), row["count"])
        # Not a `quantile` label: Prometheus reserves it for summaries (promtool's lint).
        for stat in ("p50", "p95", "max"):
            duration.add_metric((row["kind"], row["status"], stat), row[stat])
    families += [depth, oldest, ended, duration]

    backups = snapshot.get("backups") or {}
    never = float("inf")
    families.append(GaugeMetricFamily(
        "studio_backup_last_success_age_seconds", "Time since the last successful base backup ended (+Inf: never).",
        value=_number(backups.get("last_success_age_seconds"), never)))
    families.append(GaugeMetricFamily(
        "studio_backup_last_drill_age_seconds", "Time since the last restore drill ended (+Inf: never).",
        value=_number(backups.get("last_drill_age_seconds"), never)))
    for name, key, what in (("studio_backup_last_succeeded", "last_backup_succeeded", "backup"),
                            ("studio_backup_last_drill_succeeded", "last_drill_succeeded", "restore drill")):
        if backups.get(key) is not None:  # absent until the first one ended
            families.append(GaugeMetricFamily(name, f"1 if the last {what} succeeded, 0 if it failed.",
                                              value=1 if backups[key] else 0))

    connections = GaugeMetricFamily("studio_db_connections", "Client connections to Studio's database by state.",
                                    labels=("state",))
    states = {state: 0 for state in CONNECTION_STATES} | dict(snapshot.get("connections") or {})
    for state, count in sorted(states.items()):
        connections.add_metric((state,), count)
    families.append(connections)
    families.append(GaugeMetricFamily("studio_db_cluster_connections",
                                      "Client connections to the whole cluster (all databases).",
                                      value=snapshot.get("cluster_connections", 0)))
    families.append(GaugeMetricFamily("studio_db_max_connections", "The server's max_connections.",
                                      value=snapshot.get("max_connections", 0)))
    families.append(GaugeMetricFamily("studio_db_lock_waiting_sessions", "Sessions waiting for a lock now.",
                                      value=snapshot.get("lock_waiting", 0)))
    families.append(GaugeMetricFamily("studio_db_oldest_transaction_seconds",
                                      "Age of the oldest open transaction in Studio's database.",
                                      value=snapshot.get("oldest_transaction_seconds", 0)))

    database = snapshot.get("database") or {}
    hit, read = database.get("blks_hit", 0), database.get("blks_read", 0)
    for name, doc, value in (
            ("studio_db_deadlocks", "Deadlocks detected in Studio's database.", database.get("deadlocks", 0)),
            ("studio_db_blocks_hit", "Blocks found in shared buffers.", hit),
            ("studio_db_blocks_read", "Blocks read from disk (or the OS cache).", read),
            ("studio_db_temp_bytes", "Bytes written to temporary files by queries.", database.get("temp_bytes", 0))):
        families.append(CounterMetricFamily(name, doc, value=value))
    transactions = CounterMetricFamily("studio_db_transactions", "Transactions ended, by outcome.",
                                       labels=("outcome",))
    transactions.add_metric(("commit",), database.get("xact_commit", 0))
    transactions.add_metric(("rollback",), database.get("xact_rollback", 0))
    families.append(transactions)
    families.append(GaugeMetricFamily(
        "studio_db_cache_hit_ratio", "blks_hit / (blks_hit + blks_read) since the statistics were reset.",
        value=hit / (hit + read) if hit + read else 1.0))
    if database.get("size_bytes") is not None:
        families.append(GaugeMetricFamily("studio_db_size_bytes", "Size of Studio's database on disk.",
                                          value=database["size_bytes"]))

    live = GaugeMetricFamily("studio_db_table_live_rows", "Estimated live rows per table.", labels=("table",))
    dead = GaugeMetricFamily("studio_db_table_dead_rows", "Dead rows (not yet vacuumed) per table.", labels=("table",))
    bloat = GaugeMetricFamily("studio_db_table_dead_ratio", "Dead rows / (live + dead rows) per table.",
                              labels=("table",))
    scans = CounterMetricFamily("studio_db_table_scans", "Scans per table, sequential or through an index.",
                                labels=("table", "kind"))
    for row in snapshot.get("tables", []):
        table, n_live, n_dead = row["table"], row["live"], row["dead"]
        live.add_metric((table,), n_live)
        dead.add_metric((table,), n_dead)
        bloat.add_metric((table,), n_dead / (n_live + n_dead) if n_live + n_dead else 0.0)
        scans.add_metric((table, "seq"), row["seq_scan"])
        scans.add_metric((table, "index"), row["idx_scan"])
    families += [live, dead, bloat, scans]
    return families


def _number(value: Any, default: float) -> float:
    return default if value is None else float(value)
