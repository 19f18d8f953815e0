"""A worker process, assembled from Settings: its pool, storage, providers, the job
kinds it runs, what it offers the fleet, and its periodic duties. The one place where
job kinds are wired to the queue: adding a kind is one line in `job_kinds`."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import psycopg

from studio.catalog import repository as catalog_repo
from studio.catalog.crypto import CredentialCipher
from studio.catalog.runtime import ConnectionRuntime
from studio.chat.tasks import TitleJobs
from studio.config import Settings
from studio.db.scopes import WorkerDatabase
from studio.fleet import repository as fleet
from studio.generation.tasks import GenerationJobs
from studio.jobs.registry import Registry
from studio.jobs.worker import Duty, Worker, WorkerOptions
from studio.ops import housekeeping
from studio.providers.registry import Providers
from studio.storage import outbox
from studio.storage.factory import create_storage
from studio.training.tasks import TrainingJobs

log = logging.getLogger("studio.worker")


def job_kinds(settings: Settings, providers: Providers) -> Registry:
    return Registry({
        "generation": GenerationJobs(providers, max_result_bytes=settings.max_result_bytes,
                                     work_root=settings.home_dir / "work"),
        "conversation_title": TitleJobs(providers),
        "training": TrainingJobs(settings, providers, work_root=settings.home_dir / "work"),
    })


def offered(providers: Providers) -> frozenset[str]:
    """What this install can run that not every worker can: the local providers whose
    software is here (jobs for their models require them; Providers.requirement)."""
    return frozenset(name for name, provider in providers.local.items() if provider.unavailable_reason() is None)


async def _register(db: WorkerDatabase, node: str, provides: frozenset[str]) -> None:
    async with db.as_worker() as tx:
        if not await fleet.register(tx, name=node, provides=provides):
            log.warning("node %s is draining (an admin set it so): its capabilities are not advertised", node)


@asynccontextmanager
async def assembled_worker(settings: Settings, conninfo: str, options: WorkerOptions, *,
                           cleanup_every: float = 5.0, housekeeping_every: float = 3600.0) -> AsyncIterator[Worker]:
    """`cleanup_every`: how often the storage outbox is drained; `housekeeping_every`:
    retention and temporary files (F20)."""
    db = WorkerDatabase(conninfo, min_size=1, max_size=options.concurrency + 3, timeout=settings.pool_timeout,
                        prepared_statements=settings.prepared_statements)
    storage = create_storage(settings)
    providers = Providers(settings)
    cipher = CredentialCipher(settings.credentials_key.get_secret_value() if settings.credentials_key else None)

    async def load_connections() -> list[dict[str, Any]]:
        async with db.as_worker() as tx:
            return await catalog_repo.runtime_connections(tx)

    runtime = ConnectionRuntime(providers, cipher, load_connections, settings.direct_conninfo(conninfo))
    retention = housekeeping.Retention(media_recovery_seconds=settings.media_recovery_seconds,
                                       share_retention_days=settings.share_retention_days,
                                       upload_orphan_days=settings.upload_orphan_days,
                                       scratch_dir=settings.home_dir / "work")
    options = dataclasses.replace(options, provides=offered(providers))
    node = fleet.node_name(settings.worker_node)
    duties = [
        Duty("node heartbeat", fleet.HEARTBEAT_SECONDS, partial(_register, db, node, options.provides)),
        Duty("storage outbox", cleanup_every,
             partial(outbox.drain, db, storage, recovery_seconds=settings.media_recovery_seconds)),
        Duty("housekeeping", housekeeping_every, partial(housekeeping.run, db, storage, retention)),
    ]
    await db.open()
    try:
        await storage.ensure_buckets()
        await runtime.start()
        try:
            await _register(db, node, options.provides)
        except psycopg.Error as exc:  # the heartbeat duty tries again
            log.warning("could not register node %s yet (%s)", node, type(exc).__name__)
        # LISTEN goes straight to the server, never through a transaction pooler.
        yield Worker(db, settings.direct_conninfo(conninfo), storage, job_kinds(settings, providers), options,
                     duties)
    finally:
        await runtime.stop()
        await providers.aclose()
        await storage.aclose()
        await db.close()


async def run_worker(settings: Settings, conninfo: str, *, concurrency: int) -> None:
    options = WorkerOptions(concurrency=concurrency, lease_seconds=settings.worker_lease_seconds)
    async with assembled_worker(settings, conninfo, options) as worker:
        await worker.run()
