"""Running one generation job in a worker: provider -> files -> storage -> one commit.

Files are uploaded before the result is committed, so each upload is first announced
in the storage outbox (due an hour later); the commit that records the media row
removes that entry. A worker dying in between leaves a file that the outbox deletes,
never a file nobody knows about.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.jobs import repository as repo
from studio.jobs.repository import ClaimedJob
from studio.jobs.worker import backoff_seconds
from studio.providers.base import GenerationTask, MediaOutput, Provider, ProviderError

if TYPE_CHECKING:
    from studio.jobs.worker import Worker

log = logging.getLogger("studio.generation")

UPLOAD_GRACE_SECONDS = 3600
PROGRESS_INTERVAL = 0.5  # seconds between progress writes


class _Cancelled(Exception):
    pass


class WorkerContext:
    """The GenerationContext a provider sees."""

    def __init__(self, worker: Worker, job: ClaimedJob, workdir: Path, cancel: asyncio.Event) -> None:
        self.workdir = workdir
        self._worker, self._job, self._cancel = worker, job, cancel
        self._last_write = 0.0
        self._last_percent = -1

    async def progress(self, percent: int) -> None:
        percent = max(0, min(100, int(percent)))
        now = time.monotonic()
        if percent == self._last_percent or (now - self._last_write < PROGRESS_INTERVAL and percent < 100):
            return
        self._last_write, self._last_percent = now, percent
        assert self._job.generation_id is not None
        async with self._worker.db.as_worker() as tx:
            await repo.report_progress(tx, generation_id=self._job.generation_id, percent=percent)

    async def provider_job(self, provider_job_id: str) -> None:
        assert self._job.generation_id is not None
        async with self._worker.db.as_worker() as tx:
            await repo.record_provider_job(tx, generation_id=self._job.generation_id, provider_job_id=provider_job_id)

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    async def webhook_arrived(self, timeout: float) -> bool:
        assert self._job.generation_id is not None
        return await self._worker.webhook_arrived(self._job.generation_id, timeout)


def make_generation_handler(providers: dict[str, Provider], *, max_result_bytes: int, work_root: Path):
    async def handle(worker: Worker, job: ClaimedJob, cancel: asyncio.Event) -> None:
        await run_generation(worker, job, cancel, providers=providers, max_result_bytes=max_result_bytes,
                             work_root=work_root)
    return handle


async def run_generation(worker: Worker, job: ClaimedJob, cancel: asyncio.Event, *, providers: dict[str, Provider],
                         max_result_bytes: int, work_root: Path) -> None:
    assert job.generation is not None and job.generation_id is not None and job.user_id is not None
    spec = job.generation
    provider = providers.get(spec["provider"])
    reason = f"provider {spec['provider']!r} is not installed" if provider is None else provider.unavailable_reason()
    if reason:
        await _fail(worker, job, reason, retryable=False)
        return

    work_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"gen-{job.generation_id}-", dir=work_root))
    try:
        task = GenerationTask(generation_id=job.generation_id, type=spec["type"],
                              provider_model=spec["provider_model"] or "", prompt=spec["prompt"],
                              params=spec["params"] or {}, model_config=spec["model_config"] or {})
        context = WorkerContext(worker, job, workdir, cancel)
        generate = asyncio.create_task(provider.generate(task, context))  # type: ignore[union-attr]
        cancelled = asyncio.create_task(cancel.wait())
        await asyncio.wait({generate, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        if not generate.done():
            # The provider did not notice in time: stop it.
            generate.cancel()
            await asyncio.gather(generate, return_exceptions=True)
        cancelled.cancel()
        if cancel.is_set():
            await _mark_cancelled(worker, job)
            return
        try:
            outputs = generate.result()
        except ProviderError as exc:
            await _fail(worker, job, str(exc), retryable=exc.retryable)
            return
        if not outputs:
            await _fail(worker, job, "the provider returned no output", retryable=False)
            return
        await _store_and_complete(worker, job, outputs, max_result_bytes=max_result_bytes)
    finally:
        worker.forget_webhooks(job.generation_id)
        shutil.rmtree(workdir, ignore_errors=True)


async def _store_and_complete(worker: Worker, job: ClaimedJob, outputs: list[MediaOutput], *,
                              max_result_bytes: int) -> None:
    assert job.generation_id is not None and job.user_id is not None and job.generation is not None
    stored: list[dict[str, Any]] = []
    for output in outputs:
        extension = mimetypes.guess_extension(output.content_type) or output.path.suffix or ".bin"
        # Every run writes its own keys: the outbox entry of an interrupted earlier run
        # (due an hour later) must never delete the file of the run that succeeded.
        media_id = uuid.uuid4()
        key = f"{job.user_id}/generations/{job.generation_id}/{media_id}{extension}"
        async with worker.db.as_worker() as tx:
            planned = await repo.plan_upload(tx, bucket="media", key=key, grace_seconds=UPLOAD_GRACE_SECONDS)
        obj = await worker.storage.put_file("media", key, output.path, content_type=output.content_type,
                                            max_bytes=max_result_bytes)
        stored.append({"id": media_id, "key": key, "object": obj, "planned": planned})

    result = {"media": [{"id": str(s["id"]), "url": f"/v1/media/{s['id']}", "size": s["object"].size,
                         "content_type": s["object"].content_type} for s in stored]}

    async def record_result() -> None:
        async with worker.db.as_worker() as tx:
            if not await repo.hold_lease(tx, job_id=job.job_id, worker_id=worker.worker_id):
                # Presumed dead and re-run elsewhere (or this transaction already
                # committed before a lost connection): the recorded result counts.
                # Our files stay listed in the outbox and go in an hour.
                log.warning("job %s: lease lost before completion; discarding this run's result", job.job_id)
                return
            for s in stored:
                await repo.record_media(tx, media_id=s["id"], owner_id=job.user_id, generation_id=job.generation_id,
                                        bucket="media", key=s["key"], size=s["object"].size,
                                        content_type=s["object"].content_type, sha256=s["object"].sha256,
                                        planned_deletion=s["planned"])
            if not await repo.succeed_generation(tx, generation_id=job.generation_id, result=result):
                raise _Cancelled
            await repo.finish_job(tx, job_id=job.job_id, worker_id=worker.worker_id, status="succeeded")
            await repo.record_usage(tx, user_id=job.user_id, generation_id=job.generation_id,
                                    kind=job.generation["type"], provider=job.generation["provider"],
                                    model=job.generation["provider_model"], units=float(len(stored)), cost_cents=0)

    try:
        await worker.retry_on_connection_loss(record_result)
    except _Cancelled:
        # Rolled back: the files stay in the outbox and are deleted.
        await _mark_cancelled(worker, job)


async def _mark_cancelled(worker: Worker, job: ClaimedJob) -> None:
    async with worker.db.as_worker() as tx:
        await repo.cancel(tx, job_id=job.job_id, worker_id=worker.worker_id)


async def _fail(worker: Worker, job: ClaimedJob, error: str, *, retryable: bool) -> None:
    retry_in = backoff_seconds(job.attempts) if retryable and job.attempts < job.max_attempts else None
    async with worker.db.as_worker() as tx:
        status = await repo.fail(tx, job=job, worker_id=worker.worker_id, error=error, retry_in=retry_in)
    log.info("job %s: %s (%s)", job.job_id, "retrying" if status == "queued" else status, error)
