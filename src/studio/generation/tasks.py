"""The generation job kind: provider -> files -> storage -> one commit.

Files are uploaded before the result is committed, so each upload is first announced
in the storage outbox (due an hour later); the commit that records the media row
removes that entry. A worker dying in between leaves a file that the outbox deletes,
never a file nobody knows about.

The generation row mirrors its job: the hooks below keep it in step when the queue
moves the job without this handler (given back, rescued, cancelled by its owner). A
generation that ends (succeeded, or failed for good) notifies its owner in the same
transaction; one the owner cancelled does not.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from studio.db.scopes import WorkerScope
from studio.generation import repository as repo
from studio.jobs.context import JobContext
from studio.jobs.registry import JobKind
from studio.jobs.repository import RESCUE_ERROR, ClaimedJob, MovedJob
from studio.media import repository as media
from studio.notifications import repository as notifications
from studio.providers.base import GenerationTask, MediaOutput, ProviderError
from studio.providers.registry import Providers
from studio.storage import repository as outbox
from studio.usage import repository as usage

log = logging.getLogger("studio.generation")

UPLOAD_GRACE_SECONDS = 3600


class _Cancelled(Exception):
    pass


class _ProviderContext:
    """The GenerationContext a provider sees."""

    def __init__(self, job: JobContext, generation_id: UUID, workdir: Path) -> None:
        self.workdir = workdir
        self._job, self._generation_id = job, generation_id

    async def progress(self, percent: int) -> None:
        await self._job.progress(percent)

    async def provider_job(self, provider_job_id: str) -> None:
        async with self._job.scope() as tx:
            await repo.record_provider_job(tx, generation_id=self._generation_id, provider_job_id=provider_job_id)

    def cancelled(self) -> bool:
        return self._job.cancelled()

    async def webhook_arrived(self, timeout: float) -> bool:
        return await self._job.wait_for_event(timeout)


def _generation_id(job: ClaimedJob) -> UUID:
    assert job.generation_id is not None, "a generation job names its generation"
    return job.generation_id


class GenerationJobs(JobKind):
    # public.record_webhook NOTIFYs the generation id a signed webhook is about.
    event_channel = "studio_webhooks"

    def __init__(self, providers: Providers, *, max_result_bytes: int, work_root: Path) -> None:
        self.providers = providers
        self.max_result_bytes = max_result_bytes
        self.work_root = work_root

    def event_key(self, job: ClaimedJob) -> str | None:
        return str(job.generation_id)

    # --- hooks: the generation follows its job ------------------------------------------

    async def report_progress(self, tx: WorkerScope, job: ClaimedJob, percent: int) -> None:
        await repo.report_progress(tx, generation_id=_generation_id(job), percent=percent)

    async def released(self, tx: WorkerScope, jobs: Sequence[ClaimedJob]) -> None:
        await repo.requeue(tx, generation_ids=[_generation_id(job) for job in jobs])

    async def rescued(self, tx: WorkerScope, moved: Sequence[MovedJob]) -> None:
        await repo.rescued(tx, outcomes=[(_generation_id(m.job), m.status) for m in moved], error=RESCUE_ERROR)
        if ended := [_generation_id(m.job) for m in moved if m.status == "failed"]:
            await notifications.generations_ended(tx, generation_ids=ended)

    async def failed(self, tx: WorkerScope, job: ClaimedJob, status: Literal["queued", "failed"],
                     error: str) -> None:
        await repo.fail(tx, generation_id=_generation_id(job), status=status, error=error)
        if status == "failed":
            await notifications.generations_ended(tx, generation_ids=[_generation_id(job)])

    async def cancelled(self, tx: WorkerScope, jobs: Sequence[ClaimedJob]) -> set[UUID]:
        by_generation = {_generation_id(job): job.job_id for job in jobs}
        return {by_generation[g] for g in await repo.cancelled(tx, generation_ids=list(by_generation))}

    # --- the run -------------------------------------------------------------------------

    async def run(self, job: JobContext) -> None:
        generation_id, user_id = _generation_id(job.job), job.job.user_id
        assert user_id is not None
        async with job.scope() as tx:
            spec = await repo.start(tx, generation_id=generation_id, attempt=job.job.attempts)
        if spec is None:  # cancelled or deleted before it started
            await job.cancel()
            return
        model = {"provider": spec.provider, "type": spec.type, "connection_id": spec.connection_id}
        provider = self.providers.media(model)
        reason = self.providers.unavailable_reason(model)
        if reason or provider is None:
            await job.fail(reason or "no provider", retryable=False)
            return

        self.work_root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"gen-{generation_id}-", dir=self.work_root))
        try:
            inputs, mask, lora = await self._fetch_inputs(job, generation_id, workdir)
            # trained_model_id is Studio's record of the model chosen, not a provider parameter.
            params = {k: v for k, v in spec.params.items() if k != "trained_model_id"}
            task = GenerationTask(generation_id=generation_id, type=spec.type,
                                  provider_model=spec.provider_model or "", prompt=spec.prompt, params=params,
                                  model_config=spec.model_config, inputs=inputs, mask=mask, lora=lora)
            generate = asyncio.create_task(provider.generate(task, _ProviderContext(job, generation_id, workdir)))
            cancelled = asyncio.create_task(job.wait_cancelled())
            await asyncio.wait({generate, cancelled}, return_when=asyncio.FIRST_COMPLETED)
            if not generate.done():
                # The provider did not notice in time: stop it.
                generate.cancel()
                await asyncio.gather(generate, return_exceptions=True)
            cancelled.cancel()
            if job.cancelled():
                await job.cancel()
                return
            try:
                outputs = generate.result()
            except ProviderError as exc:
                await job.fail(str(exc), retryable=exc.retryable)
                return
            if not outputs:
                await job.fail("the provider returned no output", retryable=False)
                return
            await self._store_and_complete(job, generation_id, user_id, spec, outputs)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def _fetch_inputs(self, job: JobContext, generation_id: UUID,
                            workdir: Path) -> tuple[list[Path], Path | None, Path | None]:
        """The generation's input files, copied into its workdir (the provider reads local
        files): (images and audio in order, the mask, a trained model's LoRA weights)."""
        async with job.scope() as tx:
            files = await repo.run_inputs(tx, generation_id=generation_id)
        inputs: list[Path] = []
        mask = lora = None
        for index, item in enumerate(files):
            extension = ".safetensors" if item.role == "lora" else mimetypes.guess_extension(item.content_type)
            path = workdir / f"input-{index}{extension or '.bin'}"
            with path.open("wb") as out:
                async for chunk in job.storage.read(item.bucket, item.key):
                    out.write(chunk)
            if item.role == "mask":
                mask = path
            elif item.role == "lora":
                lora = path
            else:
                inputs.append(path)
        return inputs, mask, lora

    async def _store_and_complete(self, job: JobContext, generation_id: UUID, user_id: UUID, spec: repo.RunSpec,
                                  outputs: list[MediaOutput]) -> None:
        stored: list[dict[str, Any]] = []
        for output in outputs:
            extension = mimetypes.guess_extension(output.content_type) or output.path.suffix or ".bin"
            # Every run writes its own keys: the outbox entry of an interrupted earlier run
            # (due an hour later) must never delete the file of the run that succeeded.
            media_id = uuid.uuid4()
            key = f"{user_id}/generations/{generation_id}/{media_id}{extension}"
            async with job.scope() as tx:
                planned = await outbox.plan_upload(tx, bucket="media", key=key, grace_seconds=UPLOAD_GRACE_SECONDS)
            obj = await job.storage.put_file("media", key, output.path, content_type=output.content_type,
                                             max_bytes=self.max_result_bytes)
            stored.append({"id": media_id, "key": key, "object": obj, "planned": planned})

        result = {"media": [{"id": str(s["id"]), "url": f"/v1/media/{s['id']}", "size": s["object"].size,
                             "content_type": s["object"].content_type} for s in stored]}

        async def record_result() -> None:
            async with job.scope() as tx:
                if not await job.hold_lease(tx):
                    # Presumed dead and re-run elsewhere (or this transaction already
                    # committed before a lost connection): the recorded result counts.
                    # Our files stay listed in the outbox and go in an hour.
                    log.warning("job %s: lease lost before completion; discarding this run's result",
                                job.job.job_id)
                    return
                for s in stored:
                    await media.record_generated(tx, media_id=s["id"], owner_id=user_id, generation_id=generation_id,
                                                 key=s["key"], size=s["object"].size,
                                                 content_type=s["object"].content_type, sha256=s["object"].sha256)
                    await outbox.upload_recorded(tx, planned_deletion=s["planned"])
                if not await repo.succeed(tx, generation_id=generation_id, result=result):
                    raise _Cancelled
                await notifications.generations_ended(tx, generation_ids=[generation_id])
                await job.finish(tx, "succeeded")
                await usage.record_usage(tx, user_id=user_id, generation_id=generation_id, kind=spec.type,
                                         provider=spec.provider, model=spec.provider_model,
                                         units=float(len(stored)), cost_cents=0)

        try:
            await job.retry_on_connection_loss(record_result)
        except _Cancelled:
            # Rolled back: the files stay in the outbox and are deleted.
            await job.cancel()
