"""Assembles a worker process from Settings: pool, storage, providers, handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from studio.config import Settings
from studio.db.scopes import WorkerDatabase
from studio.generation.tasks import make_generation_handler
from studio.jobs.worker import Worker, WorkerOptions
from studio.providers.registry import build_providers
from studio.storage.factory import create_storage


@asynccontextmanager
async def assembled_worker(settings: Settings, conninfo: str, options: WorkerOptions) -> AsyncIterator[Worker]:
    db = WorkerDatabase(conninfo, min_size=1, max_size=options.concurrency + 3, timeout=settings.pool_timeout,
                        prepared_statements=settings.prepared_statements)
    storage = create_storage(settings)
    providers = build_providers(settings)
    handlers = {"generation": make_generation_handler(providers, max_result_bytes=settings.max_result_bytes,
                                                      work_root=settings.home_dir / "work")}
    await db.open()
    try:
        await storage.ensure_buckets()
        # LISTEN goes straight to the server, never through a transaction pooler.
        yield Worker(db, settings.direct_conninfo(conninfo), storage, handlers, options)
    finally:
        for provider in providers.values():
            await provider.aclose()
        await storage.aclose()
        await db.close()


async def run_worker(settings: Settings, conninfo: str, *, concurrency: int) -> None:
    options = WorkerOptions(concurrency=concurrency, lease_seconds=settings.worker_lease_seconds,
                            media_recovery_seconds=settings.media_recovery_seconds,
                            share_retention_days=settings.share_retention_days,
                            upload_orphan_days=settings.upload_orphan_days,
                            scratch_dir=settings.home_dir / "work")
    async with assembled_worker(settings, conninfo, options) as worker:
        await worker.run()
