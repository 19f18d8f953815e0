"""The training job kind: a LoRA trained on a dataset, resumable, with live progress.

A run whose base model is a local diffusers model trains here; one whose base model has
a hosted trainer (a Replicate image model) trains at the provider (studio.training.hosted).
Locally, a run goes dataset files -> local trainer (a thread) -> weights in storage ->
one commit that records the file, the trained model and the run's success. While it trains:

- every second, the losses of the steps since the last report are appended to the run
  (current step, progress and loss history; the owner reads them live);
- every `checkpoint_every` steps, a checkpoint goes to storage and the run records it
  (the one it replaces is deleted through the outbox): a run given back, rescued after
  its worker died, or retried, starts from there on whichever worker claims it;
- a cancel by its owner is seen at the next step.

The run's row follows its job through the hooks, as a generation's does: given back or
retried -> queued; failed for good or rescued too often -> failed (its checkpoint
deleted), which notifies the owner, as success does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from studio.config import Settings
from studio.datasets import repository as datasets
from studio.db.scopes import WorkerScope
from studio.jobs.context import JobContext
from studio.jobs.registry import JobKind
from studio.jobs.repository import RESCUE_ERROR, ClaimedJob, MovedJob
from studio.media import repository as media
from studio.notifications import repository as notifications
from studio.providers.base import ProviderError
from studio.providers.diffusers_local import NOT_INSTALLED, installed, model_source, pick_device
from studio.providers.registry import Providers
from studio.providers.replicate import Replicate
from studio.storage import repository as outbox
from studio.storage.base import StoredObject
from studio.training import repository as repo
from studio.training import schemas
from studio.training.hosted import HostedRun, hosted_config
from studio.training.hosted import Stopped as HostedStopped
from studio.training.local_trainer import Hyperparameters, Stopped, TrainingImage, train

log = logging.getLogger("studio.training")

REPORT_SECONDS = 1.0
UPLOAD_GRACE_SECONDS = 24 * 3600  # a checkpoint or weights file never recorded is deleted after this


class _Cancelled(Exception):
    pass


def run_id_of(job: ClaimedJob) -> UUID | None:
    try:
        return UUID(str(job.payload.get("training_job_id")))
    except ValueError:
        return None


class TrainingJobs(JobKind):
    # public.record_webhook NOTIFYs the run a hosted training's webhook is about.
    event_channel = "studio_webhooks"

    def __init__(self, settings: Settings, providers: Providers, *, work_root: Path) -> None:
        self.settings = settings
        self.providers = providers
        self.work_root = work_root

    def event_key(self, job: ClaimedJob) -> str | None:
        run_id = run_id_of(job)
        return str(run_id) if run_id else None

    # --- hooks: the run follows its job ---------------------------------------------------------

    async def released(self, tx: WorkerScope, jobs: Sequence[ClaimedJob]) -> None:
        await repo.fail(tx, run_ids=_ids(jobs), status="queued", error=None)

    async def rescued(self, tx: WorkerScope, moved: Sequence[MovedJob]) -> None:
        for status in ("queued", "failed"):
            ids = _ids([m.job for m in moved if m.status == status])
            if ids:
                await self._ended(tx, ids, status, RESCUE_ERROR)

    async def failed(self, tx: WorkerScope, job: ClaimedJob, status: Literal["queued", "failed"],
                     error: str) -> None:
        await self._ended(tx, _ids([job]), status, error)

    async def _ended(self, tx: WorkerScope, run_ids: list[UUID], status: str, error: str) -> None:
        await repo.fail(tx, run_ids=run_ids, status=status, error=error)
        if status == "failed":
            for run_id in run_ids:
                await _forget_checkpoint(tx, await repo.checkpoint_key(tx, run_id=run_id))
            await notifications.trainings_ended(tx, run_ids=run_ids)

    async def cancelled(self, tx: WorkerScope, jobs: Sequence[ClaimedJob]) -> set[UUID]:
        by_run = {run_id: job.job_id for job in jobs if (run_id := run_id_of(job)) is not None}
        return {by_run[r] for r in await repo.cancelled(tx, run_ids=list(by_run))}

    # --- the run -----------------------------------------------------------------------------------

    async def run(self, job: JobContext) -> None:
        run_id, user_id = run_id_of(job.job), job.job.user_id
        if run_id is None or user_id is None:
            await job.fail("the job names no training run", retryable=False)
            return
        async with job.scope() as tx:
            spec = await repo.start(tx, run_id=run_id, user_id=user_id)
        if spec is None:  # cancelled before it started, or not this user's
            await job.cancel()
            return
        problem = self._problem(spec)
        if problem:
            await job.fail(problem, retryable=False)
            return
        assert spec.dataset_id is not None and spec.base_model is not None
        self.work_root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"train-{run_id}-", dir=self.work_root))
        try:
            if hosted_config(spec.base):
                await self._train_hosted(job, spec, workdir)
            else:
                await self._train(job, spec, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _problem(self, spec: repo.RunSpec) -> str | None:
        if spec.dataset_id is None:
            return "its dataset was deleted"
        if spec.base_model is None:
            return "its base model was deleted"
        if hosted_config(spec.base):
            return self.providers.unavailable_reason(spec.base)
        if spec.base_provider != "diffusers":
            return ("its base model trains neither on the worker (a local diffusers model) nor at its provider "
                    "(a hosted trainer): docs/training.md")
        if not installed():
            return NOT_INSTALLED
        return None

    async def _train_hosted(self, job: JobContext, spec: repo.RunSpec, workdir: Path) -> None:
        assert spec.dataset_id is not None
        provider = self.providers.media(spec.base)
        config = hosted_config(spec.base)
        if not isinstance(provider, Replicate) or config is None:
            await job.fail("its base model's provider cannot train here", retryable=False)
            return
        images = [] if spec.provider_job_id else await self._fetch_images(job, spec.dataset_id, workdir)
        if not images and not spec.provider_job_id:
            await job.fail("the dataset has no images", retryable=False)
            return
        try:
            outcome = await HostedRun(self.settings, job, spec, provider, config, workdir).run(
                images, hyperparameters(spec))
        except HostedStopped:
            await job.cancel()
            return
        except ProviderError as exc:
            await job.fail(str(exc)[:1000], retryable=exc.retryable)
            return
        await self._store_and_complete(job, spec, outcome.weights.path, None, content_type=outcome.weights.content_type,
                                       provider_weights=outcome.version)

    async def _train(self, job: JobContext, spec: repo.RunSpec, workdir: Path) -> None:
        assert spec.dataset_id is not None and spec.base_model is not None
        try:
            source = model_source(self.settings, spec.base_model)
        except ProviderError as exc:
            await job.fail(str(exc), retryable=False)
            return
        images = await self._fetch_images(job, spec.dataset_id, workdir)
        if not images:
            await job.fail("the dataset has no images", retryable=False)
            return
        resume = None
        if spec.checkpoint_key:
            resume = workdir / "resume.pt"
            await _download(job, "media", spec.checkpoint_key, resume)
            log.info("training run %s resumes at step %d", spec.run_id, spec.checkpoint_step)
        params = hyperparameters(spec)
        reporter = _Reporter(job, spec.run_id)
        loop = asyncio.get_running_loop()
        out_dir = workdir / "out"
        out_dir.mkdir()

        def on_checkpoint(step: int, file: Path) -> None:
            future = asyncio.run_coroutine_threadsafe(self._save_checkpoint(job, spec, reporter, step, file), loop)
            future.result(timeout=3600)

        halt = threading.Event()  # set when this handler is cancelled (the worker gives the job back)

        def on_sample(step: int, file: Path) -> None:
            future = asyncio.run_coroutine_threadsafe(self._save_sample(job, spec, step, file), loop)
            future.result(timeout=3600)

        def cancelled() -> bool:
            return halt.is_set() or job.cancelled() or reporter.stopped

        reporting = asyncio.create_task(reporter.run())
        try:
            device = pick_device(self.settings.local_device)
            weights = await _in_thread(halt, train, source, images, params, device=device,
                                       out_dir=out_dir, checkpoint=resume, on_step=reporter.add,
                                       on_checkpoint=on_checkpoint, cancelled=cancelled, on_sample=on_sample)
        except Stopped:
            await job.cancel()
            return
        except Exception as exc:
            log.warning("training run %s failed: %s", spec.run_id, exc)
            await job.fail(f"training failed: {type(exc).__name__}: {exc}"[:1000], retryable=False)
            return
        finally:
            reporting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporting
        await reporter.flush()
        await self._store_and_complete(job, spec, weights, reporter.last_loss)

    async def _fetch_images(self, job: JobContext, dataset_id: UUID, workdir: Path) -> list[TrainingImage]:
        async with job.scope() as tx:
            rows = await datasets.images_for_training(tx, dataset_id=dataset_id)
        images = []
        for index, row in enumerate(rows):
            path = workdir / f"image-{index}{mimetypes.guess_extension(row['content_type']) or '.img'}"
            await _download(job, row["bucket"], row["key"], path)
            images.append(TrainingImage(path, row["caption"]))
        return images

    async def _save_checkpoint(self, job: JobContext, spec: repo.RunSpec, reporter: _Reporter, step: int,
                               file: Path) -> None:
        await reporter.flush()  # the losses up to the checkpoint are recorded with it
        key = f"{spec.user_id}/training/{spec.run_id}/checkpoint-{step}-{uuid.uuid4().hex[:8]}.pt"
        planned, _ = await self._upload(job, key, file, "application/octet-stream")
        async with job.scope() as tx:
            if not await job.hold_lease(tx):
                return  # another worker has the run now: this file goes with the outbox
            replaced = await repo.record_checkpoint(tx, run_id=spec.run_id, step=step, key=key)
            await outbox.upload_recorded(tx, planned_deletion=planned)
            await _forget_checkpoint(tx, replaced)
        file.unlink(missing_ok=True)

    async def _upload(self, job: JobContext, key: str, file: Path, content_type: str) -> tuple[UUID, StoredObject]:
        """Puts a run's file in storage, announced first in the outbox (deleted a day
        later unless the transaction that records it removes the announcement)."""
        async with job.scope() as tx:
            planned = await outbox.plan_upload(tx, bucket="media", key=key, grace_seconds=UPLOAD_GRACE_SECONDS)
        stored = await job.storage.put_file("media", key, file, content_type=content_type,
                                            max_bytes=self.settings.max_result_bytes)
        return planned, stored

    async def _save_sample(self, job: JobContext, spec: repo.RunSpec, step: int, file: Path) -> None:
        media_id = uuid.uuid4()
        key = f"{spec.user_id}/training/{spec.run_id}/sample-{step}-{media_id}.png"
        planned, stored = await self._upload(job, key, file, "image/png")
        async with job.scope() as tx:
            if not await job.hold_lease(tx):
                return
            await media.record_training_file(tx, media_id=media_id, owner_id=spec.user_id, key=key,
                                             size=stored.size, content_type="image/png", sha256=stored.sha256)
            await outbox.upload_recorded(tx, planned_deletion=planned)
            await repo.add_sample(tx, run_id=spec.run_id, step=step, media_id=media_id)
        file.unlink(missing_ok=True)

    async def _store_and_complete(self, job: JobContext, spec: repo.RunSpec, weights: Path,
                                  last_loss: float | None, *, content_type: str = "application/octet-stream",
                                  provider_weights: str | None = None) -> None:
        media_id = uuid.uuid4()
        key = f"{spec.user_id}/training/{spec.run_id}/lora-{media_id}{weights.suffix or '.bin'}"
        planned, stored = await self._upload(job, key, weights, content_type)

        async def record() -> None:
            async with job.scope() as tx:
                if not await job.hold_lease(tx):
                    log.warning("training run %s: lease lost before completion; discarding this run's weights",
                                spec.run_id)
                    return
                await media.record_training_file(tx, media_id=media_id, owner_id=spec.user_id, key=key,
                                                 size=stored.size, content_type=stored.content_type,
                                                 sha256=stored.sha256)
                await outbox.upload_recorded(tx, planned_deletion=planned)
                model_id = await repo.succeed(tx, run_id=spec.run_id, user_id=spec.user_id, name=spec.name,
                                              weights_media_id=media_id, provider_weights=provider_weights,
                                              metrics={"final_loss": last_loss, "steps": spec.total_steps})
                if model_id is None:
                    raise _Cancelled
                await _forget_checkpoint(tx, await repo.checkpoint_key(tx, run_id=spec.run_id))
                await notifications.trainings_ended(tx, run_ids=[spec.run_id])
                await job.finish(tx, "succeeded")

        try:
            await job.retry_on_connection_loss(record)
        except _Cancelled:
            await job.cancel()  # rolled back: the weights stay listed in the outbox and go


def hyperparameters(spec: repo.RunSpec) -> Hyperparameters:
    """The run's hyperparameters as the trainer takes them. Read through the API's model,
    so their defaults live in one place (a run records every value it was started with)."""
    given = schemas.Hyperparameters.model_validate({**spec.hyperparams, "steps": spec.total_steps})
    return Hyperparameters(**given.model_dump() | {"seed": given.seed or 0})


class _Reporter:
    """Collects the trainer's losses (from its thread) and appends them to the run every
    REPORT_SECONDS; `stopped` once the run is no longer training (its owner cancelled)."""

    def __init__(self, job: JobContext, run_id: UUID) -> None:
        self._job, self._run_id = job, run_id
        self._lock = threading.Lock()
        self._pending: list[float] = []
        self._step = 0
        self.last_loss: float | None = None
        self.stopped = False

    def add(self, step: int, loss: float) -> None:
        with self._lock:
            self._pending.append(loss)
            self._step = step
            self.last_loss = loss

    async def flush(self) -> None:
        with self._lock:
            losses, step, self._pending = self._pending, self._step, []
        if not losses:
            return
        async with self._job.scope() as tx:
            if not await repo.record_steps(tx, run_id=self._run_id, step=step, losses=losses):
                self.stopped = True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REPORT_SECONDS)
            try:
                await self.flush()
            except Exception:  # the database is away for a moment: the next report carries these
                log.warning("training run %s: progress not recorded this time", self._run_id, exc_info=True)


async def _forget_checkpoint(tx: WorkerScope, key: str | None) -> None:
    """A checkpoint no longer needed: deleted through the outbox, now."""
    if key:
        await outbox.plan_upload(tx, bucket="media", key=key, grace_seconds=0)


async def _download(job: JobContext, bucket: Any, key: str, path: Path) -> None:
    with path.open("wb") as out:
        async for chunk in job.storage.read(bucket, key):
            out.write(chunk)


async def _in_thread(halt: threading.Event, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs `function` in a thread. A cancelled caller sets `halt`, which the trainer
    checks at every step, and waits for the thread to end before passing it on: the run
    never goes on in the background of a job given back."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        halt.set()
        with contextlib.suppress(BaseException):
            await work
        raise


def _ids(jobs: Sequence[ClaimedJob]) -> list[UUID]:
    return [run_id for job in jobs if (run_id := run_id_of(job)) is not None]
