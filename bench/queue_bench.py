#!/usr/bin/env python3
"""Queue benchmark: throughput of no-op jobs and enqueue-to-start latency.

    .venv/bin/python bench/queue_bench.py [--jobs 50000] [--batch 1 10 50] [--workers 2]

What it does, on a throwaway embedded cluster (default embedded settings: fsync,
synchronous_commit and full_page_writes stay ON) started in a temporary directory:

0. The claim's plan with the statistics a new, a quiet and a busy queue have (each
   claim rolled back).
1. Studio: the real `studio.jobs.worker.Worker` in `--workers` OS processes, each with
   WorkerOptions(concurrency=batch) (the claim asks for `concurrency - running` jobs, so
   the concurrency is the largest batch a claim can take) and a handler for kind
   'maintenance' that only completes its job the queue's own way: `JobContext.complete` (`Worker.complete` in older trees) if
   the worker has one, else `repository.finish_job` in its own transaction (as the
   generation handler does). N jobs are enqueued in one INSERT ... SELECT generate_series
   (+ ANALYZE, same transaction) by the superuser once every worker is LISTENing;
   throughput = N / (last completion - enqueue commit); a run longer than
   --max-run-seconds is cut and counts the jobs done by then.
2. pgbench on the same database as studio_worker, -M prepared (psycopg prepares a
   statement from its 5th execution on a connection), -c 2 -j 2, for a fixed duration,
   running the claim SQL copied from repository._CLAIM at run time and the completion
   SQL copied from repository.finish_job:
   - "mirror": exactly the worker's transactions: BEGIN; claim; COMMIT; then for each
     claimed job BEGIN; finish_job UPDATE; COMMIT.  This is the reference of the ratio.
   - "batched completion": claim (one statement), then one UPDATE ... WHERE id = ANY(ids):
     the database's ceiling for a worker that completes a batch in one statement.
   jobs/s = tps x batch (the queue is filled so that it never runs dry; checked).
3. Latency: one idle worker (default WorkerOptions, concurrency 2) LISTENing; single
   jobs are enqueued one at a time, each in its own committed transaction, with small
   random gaps; the handler records time.time() when it starts; enqueue-to-start =
   handler start - time the enqueue's COMMIT returned to the client.

Writes bench/results/queue.json, bench/results/queue.md and the queue section of
bench/README.md. QUEUE_BENCH_SRC=/path/to/src runs the same benchmark on another copy of
the code (a patched one) and writes bench/results/queue_other_src.* instead. Everything
started here is stopped and the cluster removed, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import inspect
import json
import logging
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The real Studio code, also when not installed. QUEUE_BENCH_SRC=/path/to/src measures
# another tree (a patched copy) with the very same benchmark; the results say which
# (QUEUE_BENCH_SRC_NOTE: one line saying what that tree is).
SRC = Path(os.environ.get("QUEUE_BENCH_SRC") or ROOT / "src").resolve()
sys.path.insert(0, str(SRC))

from benchlib import cpu_busy_ticks, percentile, write_readme_section  # noqa: E402

import psycopg
from psycopg.conninfo import conninfo_to_dict

from studio.config import API_ROLE, OWNER_ROLE, WORKER_ROLE
from studio.db import migrate, roles
from studio.db.embedded import EmbeddedCluster, find_pg_bindir
from studio.jobs import repository as repo
from studio.jobs.worker import Worker

# How the no-op handler completes its job: the worker's own batched completion when it
# has one, else repository.finish_job in the handler's own transaction (as the
# generation handler does).
COMPLETION = ("JobContext.complete / Worker.complete (the worker's batched completion)" if hasattr(Worker, "complete")
              else "repository.finish_job in the handler's own transaction")

DB_NAME = "studio"
RESULTS_DIR = ROOT / "bench" / "results"
GOAL_JOBS_PER_S = 10_000
GOAL_RATIO = 0.60
GOAL_P95_MS = 5.0
PGBENCH_WORKER_ID = "pgbench"
HZ = os.sysconf("SC_CLK_TCK")

log = logging.getLogger("queue_bench")


# ============================================================================ worker child


def _worker_child(args: argparse.Namespace) -> None:
    """A worker process: the real Worker, a no-op 'maintenance' handler."""
    from studio.db.scopes import WorkerDatabase
    from studio.jobs.worker import WorkerOptions
    from studio.storage.local import LocalStorage

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    conninfo = os.environ["QUEUE_BENCH_WORKER_CONNINFO"]
    starts: list[tuple[str, float]] = []
    record = bool(args.record)

    # The handler API of the tree measured: a JobContext (jobs/registry.py), or, in trees
    # from before the generic queue, (worker, job, cancel).
    generic = importlib.util.find_spec("studio.jobs.registry") is not None

    async def maintenance_job(job: Any) -> None:
        if record:
            starts.append((str(job.job.job_id), time.time()))
        await job.complete()

    async def maintenance(worker: Worker, job: Any, cancel: asyncio.Event) -> None:
        if record:
            starts.append((str(job.job_id), time.time()))
        complete = getattr(worker, "complete", None)
        if complete is not None:
            await complete(job)
            return
        async with worker.db.as_worker() as tx:
            await repo.finish_job(tx, job_id=job.job_id, worker_id=worker.worker_id, status="succeeded")

    async def main() -> None:
        db = WorkerDatabase(conninfo, min_size=1, max_size=args.pool_max, timeout=30)
        await db.open()
        try:
            options = WorkerOptions(concurrency=args.concurrency)
            if generic:
                from studio.jobs.registry import Registry
                kinds: Any = Registry({"maintenance": maintenance_job})
            else:
                kinds = {"maintenance": maintenance}
            worker = Worker(db, conninfo, LocalStorage(Path(args.storage)), kinds, options)
            await worker.run()
        finally:
            await db.close()
            if record:
                Path(args.record).write_text(json.dumps(starts))

    asyncio.run(main())


# ============================================================================ helpers


def proc_cpu_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def children_ticks() -> int:
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * HZ)


def cpu_split(machine: int, ours: dict[str, int], wall: float) -> dict[str, float]:
    """Cores used during `wall` seconds: the whole machine, our processes, and the
    rest (other people's work on the same machine, which these figures compete with)."""
    out = {"machine": round(machine / HZ / wall, 2)}
    out.update({name: round(ticks / HZ / wall, 2) for name, ticks in ours.items()})
    out["other_processes"] = round(max(0, machine - sum(ours.values())) / HZ / wall, 2)
    return out


class CpuSampler:
    """CPU used by a process tree during a run, sampled every 0.2 s so that backends
    which connect and exit within the run (pgbench's) are counted too: each pid
    counts from its ticks when first seen (0 if it started during the run) to its
    last sample."""

    def __init__(self, root_pids: list[int]) -> None:
        import threading
        self.roots = set(root_pids)
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self._stop = threading.Event()
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self, initial: bool = False) -> None:
        for pid, ticks in tree_ticks(self.roots).items():
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = ticks

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def cpu_per_job(ticks: dict[str, int], jobs: int) -> dict[str, float]:
    """CPU milliseconds per job, by process group and in all: unlike jobs/s, hardly
    affected by other load on the machine; 2 cores / total = the ceiling on an idle
    2-core machine."""
    out = {name: round(t / HZ * 1000 / max(jobs, 1), 4) for name, t in ticks.items()}
    out["total"] = round(sum(ticks.values()) / HZ * 1000 / max(jobs, 1), 4)
    return out


def tree_ticks(roots: set[int]) -> dict[int, int]:
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid in roots or ppid in roots:
            out[pid] = int(fields[11]) + int(fields[12])
    return out


def machine_facts() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem_gib = round(mem_kib / 1024 / 1024, 1)
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
        commit = out.stdout.strip() or None
    return {"nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)), "cpu_model": model,
            "memory_gib": mem_gib, "kernel": platform.release(), "python": platform.python_version(),
            "psycopg": psycopg.__version__, "git_commit": commit}


def _anonymous(text: str) -> str:
    """Results name no directory of the machine they were measured on."""
    text = text.replace(str(ROOT), "<repo>").replace(str(SRC), "<src>")
    text = re.sub(r"/tmp/studio-queue-bench-\w+", "<tmp>", text)
    return re.sub(r"(/[\w.-]+)+/clusters/\w+", "<cluster>", text)


def claim_sql_for_pgbench() -> str:
    """repository._CLAIM as a pgbench command: parameters become pgbench variables, and
    the claimed ids come back as one array (\\gset takes exactly one row). Data-modifying
    CTEs must stay at the top level, so the claim's final SELECT becomes one more CTE."""
    sql = repo._CLAIM.strip()
    head, sep, tail = sql.rpartition("\nSELECT ")
    if sep and "claimed AS" in head and "FOR UPDATE SKIP LOCKED" in head:
        # Trees before the generic queue: CTEs, then a final SELECT of the claimed jobs.
        wrapped = (f"{head},\nresult AS (\nSELECT {tail}\n)\n"
                   "SELECT COALESCE(pg_catalog.array_agg(result.job_id), '{}')::text AS ids FROM result")
    else:
        # The generic queue: WITH next AS (... SKIP LOCKED) UPDATE ... RETURNING ...
        head, sep, tail = sql.partition("\nUPDATE ")
        if not sep or "FOR UPDATE SKIP LOCKED" not in head or "RETURNING" not in tail:
            raise RuntimeError("repository._CLAIM no longer has the shape this benchmark expects")
        wrapped = (f"{head},\nresult AS (\nUPDATE {tail}\n)\n"
                   "SELECT COALESCE(pg_catalog.array_agg(result.id), '{}')::text AS ids FROM result")
    wrapped = (wrapped.replace("%(batch)s", ":batch").replace("%(worker)s", f"'{PGBENCH_WORKER_ID}'")
               .replace("%(lease)s", ":lease"))
    if "%(" in wrapped or ";" in wrapped:
        raise RuntimeError("unexpected placeholder or ';' in repository._CLAIM")
    return wrapped


def finish_sql_template() -> str:
    """The UPDATE of repository.finish_job, with its three %s (status, id, worker)."""
    source = inspect.getsource(repo.finish_job)
    match = re.search(r'"""(.*?)"""', source, re.DOTALL)
    if match is None:
        raise RuntimeError("could not find the SQL of repository.finish_job")
    sql = " ".join(match.group(1).split())
    if sql.count("%s") != 3:
        raise RuntimeError(f"repository.finish_job's SQL has changed: {sql}")
    return sql


def finish_sql(id_expr: str) -> str:
    parts = finish_sql_template().split("%s")
    return parts[0] + "'succeeded'" + parts[1] + id_expr + parts[2] + f"'{PGBENCH_WORKER_ID}'" + parts[3]


def pgbench_script(batch: int, mode: str, lease: float) -> str:
    claim = claim_sql_for_pgbench()
    lines = [f"\\set batch {batch}", f"\\set lease {int(lease)}"]
    if mode == "mirror":
        # The worker: claim in its own transaction, then one transaction per job.
        lines += ["BEGIN;", claim + " \\gset", "COMMIT;"]
        for k in range(1, batch + 1):
            lines += ["BEGIN;", finish_sql(f"(:ids::uuid[])[{k}]") + ";", "COMMIT;"]
    elif mode == "batched":
        lines += [claim + " \\gset", finish_sql("ANY(:ids::uuid[])").replace("id = ANY", "id = ANY") + ";"]
    else:
        raise ValueError(mode)
    return "\n".join(lines) + "\n"


def parse_pgbench(out: str) -> dict[str, Any]:
    def grab(pattern: str) -> float | None:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None
    return {"transactions": grab(r"number of transactions actually processed: (\d+)"),
            "failed": grab(r"number of failed transactions: (\d+)"),
            "latency_ms": grab(r"latency average = ([\d.]+) ms"),
            "tps": grab(r"tps = ([\d.]+) \(without initial connection time\)")}


# ============================================================================ the bench


class _Rollback(Exception):
    pass


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="studio-queue-bench-")))
    cluster: EmbeddedCluster | None = None
    admin: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pg_settings: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ cluster

    def start_cluster(self) -> None:
        home = self.tmp / "home"
        self.cluster = EmbeddedCluster(home)  # default embedded settings
        superuser = secrets.token_urlsafe(24)
        t = time.monotonic()
        self.cluster.init(superuser)
        self.cluster.start()
        self.passwords = {r: secrets.token_urlsafe(24) for r in (OWNER_ROLE, API_ROLE, WORKER_ROLE)}
        self.admin = self.cluster.conninfo("postgres", superuser, DB_NAME)
        roles.bootstrap(self.cluster.conninfo("postgres", superuser), db_name=DB_NAME, passwords=self.passwords)
        migrate.upgrade(self.conninfo(OWNER_ROLE))
        with self.connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method",
                         "shared_buffers", "max_connections", "max_wal_size", "autovacuum_naptime"):
                self.pg_settings[name] = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
            reloptions = conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'public.jobs'::regclass").fetchone()
            self.pg_settings["jobs_reloptions"] = ", ".join(reloptions[0] or [])
        log.info("cluster ready in %.1fs (PostgreSQL %s, fsync=%s, synchronous_commit=%s)", time.monotonic() - t,
                 self.pg_settings["server_version"], self.pg_settings["fsync"], self.pg_settings["synchronous_commit"])

    def postmaster_pid(self) -> int:
        assert self.cluster is not None
        return int((self.cluster.data_dir / "postmaster.pid").read_text().split()[0])

    def conninfo(self, role: str) -> str:
        assert self.cluster is not None
        return self.cluster.conninfo(role, self.passwords[role], DB_NAME)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin, autocommit=True)

    def cleanup(self) -> None:
        for proc in self.procs:
            self._stop_proc(proc, timeout=10)
        self.procs.clear()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.stop(mode="immediate")
            target = (self.tmp / "home" / "pg").resolve()
            if target != self.tmp / "home" / "pg":  # relocated (the temp dir is root-only)
                shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ queue state

    def reset_queue(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("TRUNCATE public.jobs")

    def enqueue_bulk(self, conn: psycopg.Connection[Any], n: int) -> float:
        """N queued no-op jobs in one transaction; returns the time its COMMIT returned.

        ANALYZE in the same transaction (it counts the transaction's own new rows), so
        that the claim is planned with statistics that know the queue, as autoanalyze
        would eventually have them, while workers see the jobs only at COMMIT. Without
        it the claim, planned for "a few queued rows", sorts the whole queue every time
        (see --no-analyze and the results)."""
        with conn.transaction():
            conn.execute("INSERT INTO public.jobs (kind) SELECT 'maintenance' FROM generate_series(1, %s)", (n,))
            if not self.args.no_analyze:
                conn.execute("ANALYZE public.jobs")
        return time.time()

    def queue_counts(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        return dict(conn.execute("SELECT status, count(*) FROM public.jobs GROUP BY status").fetchall())

    def table_stats(self, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        row = conn.execute(
            "SELECT n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count, n_tup_hot_upd, n_tup_upd"
            "  FROM pg_stat_user_tables WHERE relid = 'public.jobs'::regclass").fetchone()
        keys = ("live_tuples", "dead_tuples", "autovacuum_count", "autoanalyze_count", "hot_updates", "updates")
        return dict(zip(keys, row))

    def statements(self, conn: psycopg.Connection[Any]) -> dict[str, dict[str, float]]:
        """pg_stat_statements since the last reset, for the queue's statements."""
        out: dict[str, dict[str, float]] = {}
        rows = conn.execute(
            "SELECT query, calls, rows, total_exec_time, mean_exec_time FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchall()
        for query, calls, nrows, total, mean in rows:
            if "FOR UPDATE SKIP LOCKED" in query and ("claimed AS" in query or "UPDATE public.jobs j" in query):
                name = "claim"
            elif re.match(r"\s*UPDATE public\.jobs SET status = \$\d+, lease_expires_at = (NULL|\$\d+)\s+WHERE id",
                          query):
                name = "finish_job"
            elif query.strip().upper() in ("BEGIN", "COMMIT"):
                name = query.strip().upper()
            else:
                continue
            entry = out.setdefault(name, {"calls": 0, "rows": 0, "total_ms": 0.0})
            entry["calls"] += calls
            entry["rows"] += nrows
            entry["total_ms"] += total
        for entry in out.values():
            entry["mean_ms"] = round(entry["total_ms"] / entry["calls"], 4) if entry["calls"] else 0.0
            entry["total_ms"] = round(entry["total_ms"], 1)
            entry["rows_per_call"] = round(entry["rows"] / entry["calls"], 2) if entry["calls"] else 0.0
        return out

    # ------------------------------------------------------------------ worker processes

    def spawn_worker(self, *, concurrency: int, pool_max: int, record: Path | None = None) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", "--concurrency", str(concurrency),
               "--pool-max", str(pool_max), "--storage", str(self.tmp / "storage")]
        if record is not None:
            cmd += ["--record", str(record)]
        env = {**os.environ, "QUEUE_BENCH_WORKER_CONNINFO": self.conninfo(WORKER_ROLE)}
        err = open(self.tmp / f"worker-{len(self.procs)}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=err, stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = err.name  # type: ignore[attr-defined]
        err.close()
        self.procs.append(proc)
        return proc

    def wait_listening(self, conn: psycopg.Connection[Any], n: int, procs: list[subprocess.Popen[bytes]],
                       timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited early ({proc.returncode}):\n{self._log_tail(proc)}")
            listening = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND query LIKE 'LISTEN %%'",
                (WORKER_ROLE,)).fetchone()[0]
            if listening >= n:
                time.sleep(0.3)  # the claim loop's catch-up claim after LISTEN finds nothing
                return
            time.sleep(0.05)
        raise RuntimeError("workers did not start LISTENing in time")

    def _log_tail(self, proc: subprocess.Popen[bytes]) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(Path(proc.log_path).read_text(errors="replace").splitlines()[-30:])  # type: ignore[attr-defined]
        return ""

    def _stop_proc(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=10)

    def stop_workers(self, procs: list[subprocess.Popen[bytes]]) -> list[str]:
        problems = []
        for proc in procs:
            self._stop_proc(proc)
            text = self._log_tail(proc)
            if proc.returncode not in (0, -signal.SIGTERM) or re.search(r"ERROR|Traceback|WARNING", text):
                problems.append(f"worker pid {proc.pid} exit {proc.returncode}: {text[-2000:]}")
            self.procs.remove(proc)
        return problems

    # ------------------------------------------------------------------ 1. Studio throughput

    def pool_max(self, concurrency: int, workers: int) -> int:
        """studio.worker.assembled_worker's pool (concurrency + 3), within max_connections:
        leave room for the LISTEN connections, this script and autovacuum."""
        budget = (int(self.pg_settings["max_connections"]) - 10) // workers - 1
        return max(2, min(concurrency + 3, budget))

    def studio_run(self, batch: int, workers: int, n: int) -> dict[str, Any]:
        """N jobs, `workers` worker processes; jobs/s = N / (last completion - enqueue
        COMMIT). A run longer than --max-run-seconds is cut there: jobs/s = jobs
        succeeded by then / elapsed (marked "capped")."""
        pool_max = self.pool_max(batch, workers)
        loadavg0 = [round(x, 2) for x in os.getloadavg()]
        capped = False
        with self.connect() as conn:
            self.reset_queue(conn)
            procs = [self.spawn_worker(concurrency=batch, pool_max=pool_max) for _ in range(workers)]
            try:
                self.wait_listening(conn, workers, procs)
                conn.execute("SELECT pg_stat_statements_reset()")
                stats0 = self.table_stats(conn)
                t0 = self.enqueue_bulk(conn, n)
                busy0, kids0 = cpu_busy_ticks(), sum(proc_cpu_ticks(p.pid) for p in procs)
                pg_cpu = CpuSampler([self.postmaster_pid()])
                while True:
                    left = conn.execute(
                        "SELECT EXISTS (SELECT 1 FROM public.jobs WHERE status = 'queued')"
                        "    OR EXISTS (SELECT 1 FROM public.jobs WHERE status = 'running')").fetchone()[0]
                    if not left:
                        break
                    for proc in procs:
                        if proc.poll() is not None:
                            raise RuntimeError(f"worker exited during the run:\n{self._log_tail(proc)}")
                    if time.time() - t0 > self.args.max_run_seconds:
                        capped = True
                        break
                    time.sleep(0.1)
                t_seen = time.time()
                busy1, kids1 = cpu_busy_ticks(), sum(proc_cpu_ticks(p.pid) for p in procs)
                pg_ticks = pg_cpu.stop()
                done = conn.execute("SELECT count(*) FROM public.jobs WHERE status = 'succeeded'").fetchone()[0]
                t_end = t_seen if capped else conn.execute(
                    "SELECT extract(epoch FROM max(updated_at))::float8 FROM public.jobs").fetchone()[0]
                statements = self.statements(conn)
                counts = self.queue_counts(conn)
                stats1 = self.table_stats(conn)
            finally:
                problems = self.stop_workers(procs)
        seconds = t_end - t0
        result = {
            "loadavg_before": loadavg0,
            "batch": batch, "workers": workers, "concurrency": batch, "pool_max_size": pool_max, "jobs": n,
            "jobs_done": done, "capped": capped, "seconds": round(seconds, 3), "jobs_per_s": round(done / seconds, 1),
            "statuses_at_end": counts, "statements": statements,
            "cpu_cores": cpu_split(busy1 - busy0, {"worker_processes": kids1 - kids0, "postgres": pg_ticks},
                                   t_seen - t0),
            "cpu_ms_per_job": cpu_per_job({"worker_processes": kids1 - kids0, "postgres": pg_ticks}, done),
            "jobs_table": {"autovacuums_during_run": stats1["autovacuum_count"] - stats0["autovacuum_count"],
                           "dead_tuples_at_end": stats1["dead_tuples"]},
            "worker_problems": problems,
        }
        if not capped and done != n:
            raise RuntimeError(f"expected {n} succeeded jobs, found {counts}")
        bad = {k: v for k, v in counts.items() if k not in ("succeeded", "queued", "running")}
        if bad:
            raise RuntimeError(f"jobs ended {bad}; see the worker logs: {problems}")
        log.info("studio batch %d: %d jobs in %.2fs = %.0f jobs/s%s (claims: %s)", batch, done, seconds,
                 done / seconds, " (capped)" if capped else "", statements.get("claim"))
        return result

    # ------------------------------------------------------------------ 2. pgbench

    def pgbench_path(self) -> Path:
        """pgbench from the server's own installation (PATH may hold only symlinks to
        initdb, pg_ctl and postgres)."""
        assert self.cluster is not None
        bindir = self.cluster.bindir or find_pg_bindir()
        real = (bindir / "pg_ctl").resolve().parent
        for candidate in (bindir / "pgbench", real / "pgbench"):
            if os.access(candidate, os.X_OK):
                return candidate
        raise RuntimeError(f"pgbench not found next to {bindir / 'pg_ctl'} or in {real}")

    def pgbench(self, batch: int, mode: str, seconds: float, fill: int) -> dict[str, Any]:
        assert self.cluster is not None
        script = self.tmp / f"claim-{mode}-{batch}.sql"
        script.write_text(pgbench_script(batch, mode, lease=30))
        params = conninfo_to_dict(self.conninfo(WORKER_ROLE))
        env = {**os.environ, "PGPASSWORD": str(params["password"])}
        cmd = [str(self.pgbench_path()), "-n", "-M", "prepared", "-c", str(self.args.pgbench_clients),
               "-j", str(self.args.pgbench_clients), "-T", str(int(seconds)), "-f", str(script),
               "-h", str(params["host"]), "-p", str(params["port"]), "-U", WORKER_ROLE, DB_NAME]
        loadavg0 = [round(x, 2) for x in os.getloadavg()]
        with self.connect() as conn:
            self.reset_queue(conn)
            self.enqueue_bulk(conn, fill)
            conn.execute("SELECT pg_stat_statements_reset()")
            stats0 = self.table_stats(conn)
            busy0, kids0 = cpu_busy_ticks(), children_ticks()
            pg_cpu = CpuSampler([self.postmaster_pid()])
            t0 = time.time()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            try:
                out, err = proc.communicate(timeout=seconds + 120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            wall = time.time() - t0
            busy1, kids1, pg_ticks = cpu_busy_ticks(), children_ticks(), pg_cpu.stop()
            if proc.returncode != 0:
                raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{err.decode()[-3000:]}")
            counts = self.queue_counts(conn)
            statements = self.statements(conn)
            stats1 = self.table_stats(conn)
        parsed = parse_pgbench(out.decode())
        tps = parsed["tps"] or 0.0
        jobs_per_s = tps * batch
        done = counts.get("succeeded", 0)
        result = {
            "loadavg_before": loadavg0,
            "batch": batch, "mode": mode, "seconds": int(seconds), "clients": self.args.pgbench_clients,
            "fill": fill, "tps": round(tps, 1), "jobs_per_s": round(jobs_per_s, 1),
            "succeeded_in_db": done, "left_queued": counts.get("queued", 0), "left_running": counts.get("running", 0),
            "ran_dry": counts.get("queued", 0) == 0, "statements": statements,
            "cpu_cores": cpu_split(busy1 - busy0, {"pgbench": kids1 - kids0, "postgres": pg_ticks}, wall),
            "cpu_ms_per_job": cpu_per_job({"pgbench": kids1 - kids0, "postgres": pg_ticks}, done),
            "jobs_table": {"autovacuums_during_run": stats1["autovacuum_count"] - stats0["autovacuum_count"],
                           "dead_tuples_at_end": stats1["dead_tuples"]},
            "pgbench": parsed, "command": shlex.join(cmd), "script": script.read_text(),
        }
        log.info("pgbench %s batch %d: %.0f tps = %.0f jobs/s (%d succeeded, %d left queued)", mode, batch, tps,
                 jobs_per_s, done, result["left_queued"])
        return result

    def pgbench_sized(self, batch: int, mode: str) -> dict[str, Any]:
        """A short pilot to size the queue so that the measured run never runs dry."""
        pilot_seconds = 2
        pilot = self.pgbench(batch, mode, pilot_seconds, fill=max(self.args.jobs, 80_000))
        rate = pilot["jobs_per_s"] if not pilot["ran_dry"] else pilot["succeeded_in_db"] / pilot_seconds * 3
        fill = int(rate * self.args.pgbench_seconds * 1.5) + 20_000
        result = self.pgbench(batch, mode, self.args.pgbench_seconds, fill=fill)
        if result["ran_dry"]:  # never expected; then count what was really done
            result["jobs_per_s"] = round(result["succeeded_in_db"] / self.args.pgbench_seconds, 1)
        result["pilot_jobs_per_s"] = pilot["jobs_per_s"]
        return result

    # ------------------------------------------------------------------ claim plan vs statistics

    def claim_plan_check(self, n: int, repeats: int = 5) -> dict[str, Any]:
        """The claim (batch 10) on N freshly queued jobs, planned with the statistics
        the table has at that moment. Each claim is rolled back, so the queue stays.

        - never_analyzed: a new installation's first burst (run this first);
        - autoanalyzed: the same burst once autovacuum has analyzed the table by itself
          (the embedded cluster's autovacuum_naptime bounds the wait; reported);
        - analyzed_empty: analyzed once while empty (what an ANALYZE at the end of the
          migrations would leave), then the burst;
        - stale: last analyzed when the table held N finished jobs and none queued
          (a quiet queue), then a burst of N arrives: until autoanalyze notices;
        - analyzed: statistics that know the queued jobs."""
        out: dict[str, Any] = {"queued_jobs": n}
        insert = "INSERT INTO public.jobs (kind, status) SELECT 'maintenance', %s FROM generate_series(1, %s)"

        def autoanalyze_count(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute("SELECT autoanalyze_count FROM pg_stat_user_tables"
                               " WHERE relid = 'public.jobs'::regclass").fetchone()
            return int(row[0]) if row else 0

        def measure(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            times, plan = [], ""
            for _ in range(repeats):
                with contextlib.suppress(_Rollback), conn.transaction():
                    conn.execute("SET LOCAL ROLE studio_worker")
                    params = {"batch": 10, "worker": "plan-check", "lease": 30.0}
                    t = time.perf_counter()
                    conn.execute(repo._CLAIM, params).fetchall()
                    times.append((time.perf_counter() - t) * 1000)
                    rows = conn.execute("EXPLAIN " + repo._CLAIM, params).fetchall()
                    plan = " / ".join(r[0].strip().split("  (cost")[0] for r in rows
                                      if "on jobs j " in r[0] or "Sort " in r[0])
                    raise _Rollback
            return {"claim_ms_median": round(statistics.median(times), 3), "plan": plan}

        with self.connect() as conn:
            for label in ("never_analyzed", "analyzed_empty", "stale", "analyzed"):
                self.reset_queue(conn)
                if label == "analyzed_empty":
                    conn.execute("ANALYZE public.jobs")
                if label == "stale":
                    conn.execute(insert, ("succeeded", n))
                    conn.execute("ANALYZE public.jobs")
                before = autoanalyze_count(conn)
                conn.execute(insert, ("queued", n))
                t_burst = time.monotonic()
                if label == "analyzed":
                    conn.execute("ANALYZE public.jobs")
                out[label] = measure(conn)
                if label == "never_analyzed":
                    while autoanalyze_count(conn) == before and time.monotonic() - t_burst < 120:
                        time.sleep(0.2)
                    waited = time.monotonic() - t_burst
                    out["autoanalyzed"] = {**measure(conn), "seconds_after_burst": round(waited, 1),
                                           "happened": autoanalyze_count(conn) > before}
            self.reset_queue(conn)
        log.info("claim (batch 10) with %d queued: %s", n,
                 {k: v["claim_ms_median"] for k, v in out.items() if isinstance(v, dict)})
        return out

    # ------------------------------------------------------------------ 4. latency

    def latency_run(self) -> dict[str, Any]:
        n, warmup = self.args.latency_jobs, 20
        record = self.tmp / "latency-starts.json"
        concurrency = 2  # WorkerOptions' and `studio worker`'s default
        with self.connect() as conn:
            self.reset_queue(conn)
            proc = self.spawn_worker(concurrency=concurrency, pool_max=concurrency + 3, record=record)
            try:
                self.wait_listening(conn, 1, [proc])
                busy0, kids0, t_cpu = cpu_busy_ticks(), proc_cpu_ticks(proc.pid), time.time()
                pg_cpu = CpuSampler([self.postmaster_pid()])
                commits: dict[str, float] = {}
                rng = random.Random(1)
                for i in range(warmup + n):
                    row = conn.execute("INSERT INTO public.jobs (kind, payload) VALUES ('maintenance', "
                                       "jsonb_build_object('seq', %s::int)) RETURNING id", (i,)).fetchone()
                    t = time.time()  # autocommit: the COMMIT has returned
                    if i >= warmup:
                        commits[str(row[0])] = t
                    time.sleep(rng.uniform(self.args.latency_gap_ms[0], self.args.latency_gap_ms[1]) / 1000)
                deadline = time.monotonic() + 30
                while conn.execute("SELECT count(*) FROM public.jobs WHERE status = 'succeeded'").fetchone()[0] \
                        < warmup + n:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"latency jobs not done: {self.queue_counts(conn)}")
                    time.sleep(0.05)
                busy1, kids1, pg_ticks = cpu_busy_ticks(), proc_cpu_ticks(proc.pid), pg_cpu.stop()
                cpu = cpu_split(busy1 - busy0, {"worker_process": kids1 - kids0, "postgres": pg_ticks},
                                time.time() - t_cpu)
            finally:
                problems = self.stop_workers([proc])
        starts = dict(json.loads(record.read_text()))
        lat = [(starts[job] - t) * 1000 for job, t in commits.items()]
        result = {
            "jobs": n, "warmup_excluded": warmup, "gap_ms": list(self.args.latency_gap_ms),
            "worker_concurrency": concurrency, "poll_seconds": 2.0,
            "p50_ms": round(percentile(lat, 50), 3), "p95_ms": round(percentile(lat, 95), 3),
            "p99_ms": round(percentile(lat, 99), 3), "max_ms": round(max(lat), 3), "min_ms": round(min(lat), 3),
            "mean_ms": round(statistics.fmean(lat), 3), "cpu_cores": cpu, "worker_problems": problems,
        }
        log.info("latency: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms", result["p50_ms"], result["p95_ms"],
                 result["p99_ms"])
        return result


# ============================================================================ reports


def command_line(argv: list[str]) -> str:
    return ".venv/bin/python bench/queue_bench.py" + ("" if not argv else " " + shlex.join(argv))


def _verdict(studio: dict[str, Any], reference: float) -> str:
    misses = []
    if studio["jobs_per_s"] < GOAL_JOBS_PER_S:
        misses.append("< 10,000/s")
    if studio["jobs_per_s"] < GOAL_RATIO * reference:
        misses.append("< 60%")
    return "yes" if not misses else "no (" + ", ".join(misses) + ")"


def write_reports(report: dict[str, Any], name: str) -> None:
    """bench/results/<name>.{json,md}; the README only for the repository's own code."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(_anonymous(json.dumps(report, indent=2, sort_keys=False)) + "\n")

    s, m, lat = report["settings"], report["machine"], report["latency"]
    lines = [
        "# Queue benchmark", "",
        f"Run {report['date']} with `{report['command']}` ({report['total_seconds']:.0f} s in all). "
        f"PostgreSQL {s['server_version'].split()[0]}, embedded cluster with its default settings: "
        f"**fsync={s['fsync']}**, synchronous_commit={s['synchronous_commit']}.", "",
        *([f"**Studio code from `{report['studio_src']}`, not this repository's src/"
           f"{': ' + report['studio_src_note'] if report.get('studio_src_note') else ''}.**", ""]
          if Path(report["studio_src"]) != (ROOT / "src").resolve() else []),
        "## Throughput: no-op jobs, claim + complete", "",
        f"Studio: {report['workers']} worker processes (`studio.jobs.worker.Worker`, "
        f"WorkerOptions(concurrency=batch)), a 'maintenance' handler that only completes its job: "
        f"{report['completion']}; {report['jobs']:,} jobs enqueued at once (runs cut at {report['max_run_seconds']:.0f} s "
        f"are marked *capped*). pgbench: `-M prepared -c {report['pgbench_clients']} -j {report['pgbench_clients']} "
        f"-T {report['pgbench_seconds']}` as studio_worker on the same database, claim SQL copied from "
        "`repository._CLAIM` and completion SQL from `repository.finish_job` at run time.", "",
        "| batch | Studio jobs/s | jobs per claim (Studio) | pgbench jobs/s, worker's transactions | "
        "Studio / that | goal met? | pgbench jobs/s, batched completion | "
        "Studio / that | CPU ms per job: Studio / pgbench batched | other load (cores): Studio / pgbench runs |",
        "|---:|---:|---:|---:|---:|:---|---:|---:|---:|---:|",
    ]
    for row in report["throughput"]:
        studio, mirror, batched = row["studio"], row["pgbench_mirror"], row.get("pgbench_batched")
        claim = studio["statements"].get("claim", {})
        studio_cell = f"{studio['jobs_per_s']:,.0f}" + (" (capped)" if studio.get("capped") else "")
        reference = batched if (report.get("reference") == "batched" and batched) else mirror
        b_cells = (f"{batched['jobs_per_s']:,.0f} | {row['ratio_vs_batched']:.0%}" if batched else "- | -")
        lines.append(
            f"| {row['batch']} | {studio_cell} | {claim.get('rows_per_call', 0):.2f} | "
            f"{mirror['jobs_per_s']:,.0f} | {row['ratio']:.0%} | {_verdict(studio, reference['jobs_per_s'])} | "
            f"{b_cells} | {studio['cpu_ms_per_job']['total']:.3f} / "
            f"{batched['cpu_ms_per_job']['total'] if batched else float('nan'):.3f} | "
            f"{studio['cpu_cores']['other_processes']:.2f} / {mirror['cpu_cores']['other_processes']:.2f}"
            f"{' / %.2f' % batched['cpu_cores']['other_processes'] if batched else ''} |")
    lines += [
        "",
        "- *worker's transactions*: pgbench runs what the worker as it is in src/ runs: "
        "`BEGIN; <claim>; COMMIT;` then for each claimed job `BEGIN; <finish_job UPDATE>; COMMIT;`, one job "
        "after the other in each client (the worker overlaps its per-job completions on up to concurrency "
        "connections, so at large batches it can beat this reference).",
        "- *batched completion*: the claim, then one `UPDATE ... WHERE id = ANY(ids)` for the claimed batch, "
        "each a single-statement transaction: the database's own limit for claiming and completing batches of "
        "that size on this machine.",
        f"- *goal met?*: Studio >= 10,000 jobs/s and >= 60% of pgbench running the worker's own SQL: here "
        f"the *{'batched completion' if report.get('reference') == 'batched' else 'worker' + chr(39) + 's transactions'}* "
        "column (the worker " + ("completes batches in one statement)." if report.get("reference") == "batched"
                                else "completes each job in its own transaction)."),
        "- *jobs per claim*: rows per claim call (pg_stat_statements). The claim asks for `concurrency - running` "
        "and the claim loop runs again whenever a job finishes, so a claim takes only the slots freed since the "
        "previous one.",
        "- *CPU ms per job*: CPU time of the worker processes and PostgreSQL (Studio), or of pgbench and "
        "PostgreSQL, per completed job. Unlike jobs/s it hardly depends on what else runs on the machine; "
        "2 cores / this figure = the ceiling on an otherwise idle 2-core machine when not waiting on WAL flushes.",
        "- *other load*: CPU used during each run by processes that are not this benchmark's (the machine "
        "is shared; 2 cores in all); the run's figures compete with it, and runs at different moments see "
        "different load, which moves jobs/s and the ratios far more than CPU ms per job. Details per run (CPU of the workers and of "
        "PostgreSQL, per-statement times, autovacuum) are in `queue.json`.",
        "",
        "## Enqueue-to-start latency (LISTEN/NOTIFY)", "",
        f"One idle worker (WorkerOptions() defaults: concurrency {lat['worker_concurrency']}, poll fallback "
        f"{lat['poll_seconds']:.0f} s) LISTENing; {lat['jobs']} single-job INSERTs by another process, each committed "
        f"on its own, {lat['gap_ms'][0]:.0f}-{lat['gap_ms'][1]:.0f} ms apart ({lat['warmup_excluded']} warm-up jobs "
        "excluded). Latency = handler start (time.time() in the worker) - return of the enqueue's COMMIT.", "",
        "| p50 | p95 | p99 | max | goal: p95 < 5 ms | other load (cores) |", "|---:|---:|---:|---:|:---|---:|",
        f"| {lat['p50_ms']:.2f} ms | {lat['p95_ms']:.2f} ms | {lat['p99_ms']:.2f} ms | {lat['max_ms']:.2f} ms | "
        f"{'met' if lat['p95_ms'] < GOAL_P95_MS else 'not met'} | {lat['cpu_cores']['other_processes']:.2f} |",
    ]
    plan = report.get("claim_plan")
    if plan:
        lines += [
            "", f"## The claim's plan and the table's statistics ({plan['queued_jobs']:,} queued jobs, batch 10)", "",
            "| statistics | claim (median) | plan |", "|:---|---:|:---|",
        ]
        for label, text in (("never_analyzed", "never analyzed (new installation, first burst)"),
                            ("analyzed_empty", "analyzed once while empty, then the burst"),
                            ("stale", "analyzed while the queue was empty (quiet queue, then a burst)"),
                            ("analyzed", "analyzed with the queued jobs")):
            lines.append(f"| {text} | {plan[label]['claim_ms_median']:.2f} ms | {plan[label]['plan']} |")
            if label == "never_analyzed" and "autoanalyzed" in plan:
                auto = plan["autoanalyzed"]
                when = (f"{auto['seconds_after_burst']:.0f} s after the burst" if auto["happened"]
                        else f"not within {auto['seconds_after_burst']:.0f} s")
                lines.append(f"| the same burst, once autovacuum analyzed the table by itself ({when}) | "
                             f"{auto['claim_ms_median']:.2f} ms | {auto['plan']} |")
        lines += ["", "The throughput runs above ANALYZE the table in the enqueueing transaction, i.e. they "
                  "measure the analyzed case."]
    lines += [
        "", "## Machine and configuration", "",
        f"- nproc: {m['nproc']} ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
        f"load average at start: {report['loadavg_start']}",
        f"- PostgreSQL {s['server_version']}: fsync={s['fsync']}, synchronous_commit={s['synchronous_commit']}, "
        f"full_page_writes={s['full_page_writes']}, wal_sync_method={s['wal_sync_method']}, "
        f"shared_buffers={s['shared_buffers']}, max_connections={s['max_connections']}; "
        f"public.jobs: {s['jobs_reloptions']}",
        f"- Python {m['python']}, psycopg {m['psycopg']}, Studio at commit {m['git_commit']} (work tree as it was)",
        f"- Date: {report['date']}",
        f"- Command: `{report['command']}`", "",
    ]
    (RESULTS_DIR / f"{name}.md").write_text(_anonymous("\n".join(lines)))
    if Path(report["studio_src"]) == (ROOT / "src").resolve():
        update_readme(report)


def update_readme(report: dict[str, Any]) -> None:
    start, end = "<!-- queue-bench:start -->", "<!-- queue-bench:end -->"
    rows = []
    for r in report["throughput"]:
        studio, mirror, batched = r["studio"], r["pgbench_mirror"], r.get("pgbench_batched")
        capped = " (capped)" if studio.get("capped") else ""
        batched_cell = f"{batched['jobs_per_s']:,.0f} ({r['ratio_vs_batched']:.0%})" if batched else "-"
        rows.append(f"| {r['batch']} | {studio['jobs_per_s']:,.0f}{capped} | "
                    f"{mirror['jobs_per_s']:,.0f} ({r['ratio']:.0%}) | {batched_cell} |")
    lat = report["latency"]
    write_readme_section(start, end, [
        "## Queue (`queue_bench.py`)", "",
        "No-op job throughput of the real worker (`studio.jobs.worker.Worker`, claim + complete, 2 worker "
        "processes on 2 cores) next to pgbench running the same claim and completion SQL on the same database "
        "in the same run, and enqueue-to-start latency with LISTEN/NOTIFY. Starts and removes its own embedded "
        "cluster (default settings, fsync on). About 3-4 minutes.", "",
        "```sh", ".venv/bin/python bench/queue_bench.py [--jobs 50000] [--batch 1 10 50] [--workers 2]", "```", "",
        f"Last run: {report['date']}, `{report['command']}`; the machine is shared, see the *other load* column "
        "in the details.", "",
        "| batch | Studio jobs/s | pgbench, worker's transactions (Studio's share) | "
        "pgbench, batched completion (Studio's share) |",
        "|---:|---:|---:|---:|",
        *rows, "",
        f"Enqueue-to-start latency: p50 {lat['p50_ms']:.2f} ms, p95 {lat['p95_ms']:.2f} ms, "
        f"p99 {lat['p99_ms']:.2f} ms (goal p95 < 5 ms). Goals: >= 10,000 jobs/s and >= 60% of pgbench.", "",
        "Details: [results/queue.md](results/queue.md), raw: [results/queue.json](results/queue.json).", "",
        "Trying a change to the queue without touching src/: `QUEUE_BENCH_SRC=/path/to/patched/src` runs this "
        "same benchmark on another source tree and writes `results/queue_other_src.*` (or `--results-name`). "
        "Variants of the worker measured before batched completion and single-statement claims were in src/ "
        "(and asynchronous commit, not adopted): [results/queue_variants.md](results/queue_variants.md); the "
        "script that measured them was removed once its variants landed (it is in the history).",
    ])


# ============================================================================ main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=50_000, help="jobs per Studio throughput run")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 10, 50], help="claim batch sizes")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--pgbench-seconds", type=int, default=8)
    p.add_argument("--pgbench-clients", type=int, default=2)
    p.add_argument("--no-batched", action="store_true", help="skip the batched-completion pgbench runs")
    p.add_argument("--no-pgbench", action="store_true", help="Studio only (quick comparisons; no ratios)")
    p.add_argument("--latency-jobs", type=int, default=500)
    p.add_argument("--latency-gap-ms", type=float, nargs=2, default=[2.0, 8.0])
    p.add_argument("--max-run-seconds", type=float, default=45,
                   help="cut a Studio run after this long and count the jobs done by then")
    p.add_argument("--no-analyze", action="store_true",
                   help="do not ANALYZE the jobs table with the enqueued jobs (shows the cold-statistics plan)")
    p.add_argument("--no-write", action="store_true", help="print, do not write bench/results and README")
    p.add_argument("--json-out", help="also write the raw report here")
    p.add_argument("--results-name", help="bench/results/<name>.{md,json} (default: queue; queue_other_src "
                   "when QUEUE_BENCH_SRC points elsewhere)")
    # internal: a worker process
    p.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--concurrency", type=int, help=argparse.SUPPRESS)
    p.add_argument("--pool-max", type=int, help=argparse.SUPPRESS)
    p.add_argument("--storage", help=argparse.SUPPRESS)
    p.add_argument("--record", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args._worker:
        _worker_child(args)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)  # also when started with SIGINT ignored (a background job)

    started = time.monotonic()
    loadavg_start = [round(x, 2) for x in os.getloadavg()]
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    bench = Bench(args)
    try:
        bench.start_cluster()
        plan_check = bench.claim_plan_check(args.jobs)
        throughput = []
        for batch in args.batch:
            studio = bench.studio_run(batch, args.workers, args.jobs)
            if args.no_pgbench:
                throughput.append({"batch": batch, "studio": studio})
                continue
            mirror = bench.pgbench_sized(batch, "mirror")
            batched = None if args.no_batched else bench.pgbench_sized(batch, "batched")
            throughput.append({"batch": batch, "studio": studio, "pgbench_mirror": mirror,
                               "pgbench_batched": batched,
                               "ratio": round(studio["jobs_per_s"] / mirror["jobs_per_s"], 3),
                               "ratio_vs_batched": round(studio["jobs_per_s"] / batched["jobs_per_s"], 3)
                               if batched else None})
        latency = bench.latency_run()
    except KeyboardInterrupt:
        log.error("interrupted; cleaning up")
        return 130
    finally:
        bench.cleanup()
    report = {
        "benchmark": "queue", "date": date, "command": command_line(argv), "jobs": args.jobs,
        "reference": "batched" if hasattr(Worker, "complete") else "mirror",
        "studio_src": str(SRC), "studio_src_note": os.environ.get("QUEUE_BENCH_SRC_NOTE"), "completion": COMPLETION,
        "workers": args.workers, "pgbench_clients": args.pgbench_clients, "pgbench_seconds": args.pgbench_seconds,
        "total_seconds": round(time.monotonic() - started, 1), "machine": machine_facts(),
        "loadavg_start": loadavg_start, "max_run_seconds": args.max_run_seconds,
        "settings": bench.pg_settings,
        "goals": {"jobs_per_s": GOAL_JOBS_PER_S, "ratio_to_pgbench": GOAL_RATIO, "latency_p95_ms": GOAL_P95_MS},
        "throughput": throughput, "latency": latency, "claim_plan": plan_check,
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    if args.no_pgbench:
        for row in throughput:
            st = row["studio"]
            print(f"batch {row['batch']:3d}: {st['jobs_per_s']:9,.0f} jobs/s{' (capped)' if st['capped'] else ''}, "
                  f"{st['statements'].get('claim', {}).get('rows_per_call', 0):.2f} jobs/claim, "
                  f"{st['cpu_ms_per_job']['total']:.3f} CPU ms/job, other load {st['cpu_cores']['other_processes']}")
        print(f"latency p50 {latency['p50_ms']:.2f} p95 {latency['p95_ms']:.2f} p99 {latency['p99_ms']:.2f} ms, "
              f"other load {latency['cpu_cores']['other_processes']}; src {SRC}; completion: {COMPLETION}")
    elif args.no_write:
        print(json.dumps(report, indent=2))
    else:
        name = args.results_name or ("queue" if SRC == (ROOT / "src").resolve() else "queue_other_src")
        write_reports(report, name)
        print((RESULTS_DIR / f"{name}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
