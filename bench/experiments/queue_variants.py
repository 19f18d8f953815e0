#!/usr/bin/env python3
"""Experiments behind the recommendations in bench/results/queue.md: the real Worker
next to variants of it (changes to src/studio/jobs tried on a subclass here, not in
src/), measured exactly like bench/queue_bench.py measures Studio.

    .venv/bin/python bench/experiments/queue_variants.py [--jobs 30000] [--batch 10 50] \
        [--variants baseline full_claims batched_complete ...] [--workers 2]

Variants (cumulative where named so):
- baseline:          studio.jobs.worker.Worker as it is.
- full_claims:       claim only when at least half the slots are free (or none run), so
                     claims take batches instead of refilling one slot at a time.
- batched_only:      the no-op handler completes through the buffer described next, but
                     claims as the real worker does.
- batched_complete:  full_claims + the no-op handler completes through a worker-level
                     buffer: one `UPDATE ... WHERE id = ANY(%s)` for every job that
                     finished meanwhile (the handler awaits its job's flush).
- one_trip:          batched_complete + claim and completion each sent as a single
                     statement (implicit transaction, no BEGIN/COMMIT round trips) on a
                     pool without the per-checkout check query.
- async_commit:      one_trip + SET synchronous_commit = off for the worker's connections.
- per_job_async:     the real Worker (per-job completion) + synchronous_commit = off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent / "src"))

import queue_bench as qb

VARIANTS = ("baseline", "full_claims", "batched_only", "batched_complete", "one_trip", "async_commit",
            "per_job_async")


# ============================================================================ child


def child(args: argparse.Namespace) -> None:
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from studio.db.scopes import WorkerDatabase, WorkerScope
    from studio.jobs import repository as repo
    from studio.jobs.worker import Worker, WorkerOptions
    from studio.storage.local import LocalStorage

    logging.basicConfig(level=logging.WARNING)
    variant = args.variant
    conninfo = os.environ["QUEUE_BENCH_WORKER_CONNINFO"]
    full_claims = variant in ("full_claims", "batched_complete", "one_trip", "async_commit")
    batched = variant in ("batched_only", "batched_complete", "one_trip", "async_commit")
    one_trip = variant in ("one_trip", "async_commit")
    async_commit = variant in ("async_commit", "per_job_async")

    class Db(WorkerDatabase):
        def __init__(self) -> None:
            super().__init__(conninfo, min_size=1, max_size=args.pool_max, timeout=30)
            kwargs = {"autocommit": True, "row_factory": dict_row}
            if async_commit:
                kwargs["options"] = "-c synchronous_commit=off"
            self.pool = AsyncConnectionPool(conninfo, min_size=1, max_size=args.pool_max, timeout=30, open=False,
                                            kwargs=kwargs, check=None if one_trip else AsyncConnectionPool.check_connection)

    _COMPLETE = """
        UPDATE public.jobs SET status = 'succeeded', lease_expires_at = NULL
         WHERE id = ANY(%s) AND worker_id = %s AND status = 'running'
        RETURNING id
    """

    class FastWorker(Worker):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self._pending: dict[UUID, asyncio.Future[bool]] = {}
            self._flush_wake = asyncio.Event()
            self.flushes = 0

        async def complete_soon(self, job_id: UUID) -> bool:
            fut = asyncio.get_running_loop().create_future()
            self._pending[job_id] = fut
            self._flush_wake.set()
            return await fut

        async def _flusher(self) -> None:
            while True:
                await self._flush_wake.wait()
                self._flush_wake.clear()
                if not self._pending:
                    continue
                pending, self._pending = self._pending, {}
                try:
                    if one_trip:
                        async with self.db.pool.connection() as conn:
                            cur = await conn.execute(_COMPLETE, (list(pending), self.worker_id))
                            done = {r["id"] for r in await cur.fetchall()}
                    else:
                        async with self.db.as_worker() as tx:
                            cur = await tx.conn.execute(_COMPLETE, (list(pending), self.worker_id))
                            done = {r["id"] for r in await cur.fetchall()}
                    self.flushes += 1
                except Exception as exc:  # noqa: BLE001
                    for fut in pending.values():
                        fut.set_exception(exc)
                    continue
                for job_id, fut in pending.items():
                    fut.set_result(job_id in done)

        async def run(self) -> None:
            flusher = asyncio.create_task(self._flusher())
            try:
                await super().run()
            finally:
                flusher.cancel()

        async def _claim_loop(self) -> None:
            conc = self.options.concurrency
            threshold = max(1, conc // 2) if full_claims else 1
            while not self._stopping.is_set():
                free = conc - len(self.running)
                claimed: list[repo.ClaimedJob] = []
                if free >= threshold or (free > 0 and not self.running):
                    if one_trip:
                        async with self.db.pool.connection() as conn:
                            claimed = await repo.claim(WorkerScope(conn), worker_id=self.worker_id, batch=free,
                                                       lease_seconds=self.options.lease_seconds)
                    else:
                        async with self.db.as_worker() as tx:
                            claimed = await repo.claim(tx, worker_id=self.worker_id, batch=free,
                                                       lease_seconds=self.options.lease_seconds)
                    for job in claimed:
                        self._start(job)
                if claimed and conc - len(self.running) >= threshold:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.options.poll_seconds)
                except TimeoutError:
                    pass

    starts: list[tuple[str, float]] = []

    async def maintenance(worker: Any, job: repo.ClaimedJob, cancel: asyncio.Event) -> None:
        if args.record:
            starts.append((str(job.job_id), time.time()))
        if batched:
            await worker.complete_soon(job.job_id)
            return
        async with worker.db.as_worker() as tx:
            await repo.finish_job(tx, job_id=job.job_id, worker_id=worker.worker_id, status="succeeded")

    async def main() -> None:
        db = Db() if (one_trip or async_commit) else WorkerDatabase(conninfo, min_size=1, max_size=args.pool_max,
                                                                     timeout=30)
        await db.open()
        cls = FastWorker if (full_claims or batched) else Worker
        try:
            worker = cls(db, conninfo, LocalStorage(Path(args.storage)), {"maintenance": maintenance},
                         WorkerOptions(concurrency=args.concurrency))
            await worker.run()
        finally:
            await db.close()
            if args.record:
                Path(args.record).write_text(json.dumps(starts))

    asyncio.run(main())


# ============================================================================ parent


DESCRIPTIONS = {
    "baseline": "`studio.jobs.worker.Worker` as it is; the handler calls `repository.finish_job` in its own "
                "transaction (`as_worker()`)",
    "full_claims": "claim only when at least half the slots are free",
    "batched_only": "handler awaits a worker-level buffer; one `UPDATE ... WHERE id = ANY(%s)` per flush, "
                    "in `as_worker()`",
    "batched_complete": "batched_only + full_claims",
    "one_trip": "batched_only + claim and completion as single statements on the autocommit connection "
                "(no BEGIN/COMMIT), pool without the per-checkout check (it also claims only when half the "
                "slots are free, which changes nothing once completion is batched)",
    "async_commit": "one_trip + synchronous_commit=off on the worker's connections",
    "per_job_async": "baseline + synchronous_commit=off on the worker's connections",
}


def write_md(path: Path, argv: list[str], results: list[dict[str, Any]], latencies: list[dict[str, Any]],
             settings: dict[str, str], date: str) -> None:
    lines = [
        "# Queue: variants of the worker", "",
        f"Run {date} with "
        f"`.venv/bin/python bench/experiments/queue_variants.py {' '.join(argv)}`; PostgreSQL "
        f"{settings.get('server_version', '?').split()[0]}, fsync={settings.get('fsync')}, "
        f"synchronous_commit={settings.get('synchronous_commit')} (server default). Measured like "
        "`bench/queue_bench.py` measures Studio (same enqueue, same 2 worker processes, same no-op handler "
        "work), with the changes below made in a subclass of Worker in `queue_variants.py`, not in src/.", "",
        "| variant | what changes |", "|:---|:---|",
        *[f"| {v} | {DESCRIPTIONS[v]} |" for v in dict.fromkeys(r["variant"] for r in results)], "",
        "| batch | variant | jobs/s | jobs per claim | CPU ms per job (workers + PostgreSQL) | other load (cores) |",
        "|---:|:---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['batch']} | {r['variant']} | {r['jobs_per_s']:,.0f}{' (capped)' if r['capped'] else ''} | "
                     f"{r['statements'].get('claim', {}).get('rows_per_call', 0):.2f} | "
                     f"{r['cpu_ms_per_job']['total']:.3f} | {r['cpu_cores']['other_processes']:.2f} |")
    if latencies:
        lines += ["", "Enqueue-to-start latency (one idle worker, concurrency 2, as in queue_bench.py):", "",
                  "| variant | p50 | p95 | p99 | other load (cores) |", "|:---|---:|---:|---:|---:|"]
        for r in latencies:
            lines.append(f"| {r['variant']} | {r['p50_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
                         f"{r['cpu_cores']['other_processes']:.2f} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, default=30_000)
    p.add_argument("--batch", type=int, nargs="+", default=[10, 50])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--out", default=str(HERE.parent / "results" / "queue_variants.json"))
    p.add_argument("--_child", action="store_true")
    p.add_argument("--variant")
    p.add_argument("--concurrency", type=int)
    p.add_argument("--pool-max", type=int)
    p.add_argument("--storage")
    p.add_argument("--record")
    p.add_argument("--latency", action="store_true", help="also the latency run for each variant")
    args = p.parse_args(argv)
    if args._child:
        child(args)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.time()
    bench_args = qb.parse_args(["--jobs", str(args.jobs)])
    bench = qb.Bench(bench_args)
    results: list[dict[str, Any]] = []
    latencies: list[dict[str, Any]] = []
    current = {"variant": "baseline"}

    def spawn(*, concurrency: int, pool_max: int, record: Path | None = None) -> Any:
        import subprocess
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", "--variant", current["variant"],
               "--concurrency", str(concurrency), "--pool-max", str(pool_max), "--storage", str(bench.tmp / "s")]
        if record is not None:
            cmd += ["--record", str(record)]
        env = {**os.environ, "QUEUE_BENCH_WORKER_CONNINFO": bench.conninfo(qb.WORKER_ROLE)}
        logf = open(bench.tmp / f"v-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = logf.name  # type: ignore[attr-defined]
        logf.close()
        bench.procs.append(proc)
        return proc

    bench.spawn_worker = spawn  # type: ignore[method-assign]
    try:
        bench.start_cluster()
        for batch in args.batch:
            for variant in args.variants:
                current["variant"] = variant
                r = bench.studio_run(batch, args.workers, args.jobs)
                r["variant"] = variant
                logging.info("%-17s batch %3d: %8.0f jobs/s  claim rows/call %.2f  cpu %s", variant, batch,
                             r["jobs_per_s"], r["statements"].get("claim", {}).get("rows_per_call", 0), r["cpu_cores"])
                results.append(r)
        if args.latency:
            for variant in args.variants:
                current["variant"] = variant
                r = bench.latency_run()
                r["variant"] = variant
                logging.info("%-17s latency p50 %.2f p95 %.2f p99 %.2f ms", variant, r["p50_ms"], r["p95_ms"],
                             r["p99_ms"])
                latencies.append(r)
    except KeyboardInterrupt:
        return 130
    finally:
        bench.cleanup()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    Path(args.out).write_text(json.dumps({"date": date, "settings": bench.pg_settings,
                                          "command": "bench/experiments/queue_variants.py " + " ".join(argv),
                                          "machine": qb.machine_facts(), "results": results,
                                          "latency": latencies}, indent=2) + "\n")
    write_md(Path(args.out).with_suffix(".md"), argv, results, latencies, bench.pg_settings, date)
    print(f"{'variant':17} {'batch':>5} {'jobs/s':>9} {'jobs/claim':>10} {'cpu':>40}")
    for r in results:
        print(f"{r['variant']:17} {r['batch']:>5} {r['jobs_per_s']:>9.0f} "
              f"{r['statements'].get('claim', {}).get('rows_per_call', 0):>10.2f} {json.dumps(r['cpu_cores']):>40}")
    for r in latencies:
        print(f"latency {r['variant']:17} p50 {r['p50_ms']:.2f} p95 {r['p95_ms']:.2f} p99 {r['p99_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
