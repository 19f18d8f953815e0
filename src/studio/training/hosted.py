"""The hosted training backend: a LoRA trained at the base model's provider (Replicate).

A run goes dataset files -> one zip (each image beside a .txt of its caption, the layout
LoRA trainers read) -> the provider's file store -> a training of the base model's
trainer into its destination model -> polled until it ends (a signed webhook wakes the
poll at once) -> its weights into storage, and the trained model, naming the new version
the base model takes as its LoRA, recorded in one commit (tasks.TrainingJobs).

The training's id is recorded as soon as it exists: a worker that takes the run over
after its first one died follows that training, rather than paying for another. The
provider reports steps in its logs but no loss history, so a hosted run has progress,
an ETA and no loss chart. A cancel, or a run that outlasts
settings.replicate_training_max_seconds, cancels the training at the provider.
"""

from __future__ import annotations

import asyncio
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.config import Settings
from studio.jobs.context import JobContext
from studio.providers.base import MediaOutput, ProviderError
from studio.providers.replicate import FINAL_STATES, Replicate, log_step
from studio.training import repository as repo
from studio.training.local_trainer import Hyperparameters, TrainingImage

log = logging.getLogger("studio.training.hosted")


@dataclass(frozen=True)
class Outcome:
    weights: MediaOutput
    version: str  # the trained version, owner/name:version: the base model's LoRA input


class Stopped(Exception):
    """The run's owner cancelled it (the training at the provider is cancelled too)."""


def hosted_config(base: Mapping[str, Any]) -> dict[str, Any] | None:
    """The base model's hosted trainer (admins set it: catalog.schemas.HostedTraining)."""
    training = (base.get("config") or {}).get("training")
    return training if base.get("provider") == "replicate" and isinstance(training, dict) else None


def trainer_inputs(params: Hyperparameters, images_url: str, fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The run's hyperparameters under the names the common LoRA trainers on Replicate
    take (the model's fixed inputs first: the run's own values win)."""
    inputs: dict[str, Any] = {**fixed, "input_images": images_url, "steps": params.steps, "lora_rank": params.rank,
                              "learning_rate": params.learning_rate, "batch_size": params.batch_size,
                              "resolution": str(params.resolution), "seed": params.seed, "autocaption": False}
    if params.trigger_word:
        inputs["trigger_word"] = params.trigger_word
    return inputs


def zip_dataset(images: list[TrainingImage], path: Path) -> Path:
    """image-N.ext with image-N.txt (its caption) beside it. Stored, not deflated: the
    images are compressed already."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            archive.write(image.path, image.path.name)
            if image.caption:
                archive.writestr(f"{image.path.stem}.txt", image.caption)
    return path


class HostedRun:
    def __init__(self, settings: Settings, job: JobContext, spec: repo.RunSpec, provider: Replicate,
                 config: Mapping[str, Any], workdir: Path) -> None:
        self.settings, self.job, self.spec, self.provider = settings, job, spec, provider
        self.config, self.workdir = config, workdir

    async def run(self, images: list[TrainingImage], params: Hyperparameters) -> Outcome:
        """The finished training's weights and version. ProviderError when it failed;
        Stopped when its owner cancelled it."""
        training_id = self.spec.provider_job_id
        if training_id is None:
            training_id = await self._create(images, params)
        else:
            log.info("training run %s follows its training %s at the provider", self.spec.run_id, training_id)
        training = await self._follow(training_id)
        if training["status"] != "succeeded":
            raise ProviderError(f"the training at the provider {training['status']}: "
                                f"{Replicate.error_text(training)}", retryable=False)
        output = training.get("output")
        version = output.get("version") if isinstance(output, dict) else None
        weights_url = output.get("weights") if isinstance(output, dict) else None
        if not isinstance(version, str) or not isinstance(weights_url, str) or len(version) > 1000:
            raise ProviderError("the training succeeded without a version and weights in its output",
                                retryable=False)
        weights = await self.provider.fetch_weights(weights_url, self.workdir)
        return Outcome(weights, version)

    async def _create(self, images: list[TrainingImage], params: Hyperparameters) -> str:
        archive = await asyncio.to_thread(zip_dataset, images, self.workdir / "dataset.zip")
        images_url = await self.provider.upload_file(archive, "application/zip")
        training = await self.provider.create_training(
            self.config["trainer"], self.config["destination"],
            trainer_inputs(params, images_url, self.config.get("inputs") or {}))
        training_id: str = training["id"]
        async with self.job.scope() as tx:
            recorded = await self.job.hold_lease(tx) and await repo.record_provider_job(
                tx, run_id=self.spec.run_id, provider_job_id=training_id)
        if not recorded:  # cancelled meanwhile, or another worker has the run: this one is not needed
            await self.provider.cancel_training(training_id)
            raise Stopped
        log.info("training run %s is training %s at the provider", self.spec.run_id, training_id)
        return training_id

    async def _follow(self, training_id: str) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.replicate_training_max_seconds
        interval = self.settings.replicate_training_poll_seconds
        while True:
            training = await self.provider.get_training(training_id)
            if training["status"] in FINAL_STATES:
                return training
            if not await self._report(training) or self.job.cancelled():
                await self.provider.cancel_training(training_id)
                raise Stopped
            remaining = deadline - loop.time()
            if remaining <= 0:
                await self.provider.cancel_training(training_id)
                raise ProviderError(f"the training did not finish within "
                                    f"{self.settings.replicate_training_max_seconds:g}s", retryable=False)
            await self.job.wait_for_event(min(interval, remaining))

    async def _report(self, training: Mapping[str, Any]) -> bool:
        """The step the trainer's logs show, if they show one; False once the run is no
        longer training (a cancel is seen here, or at the job's next heartbeat)."""
        found = log_step(training.get("logs"))
        if found is None:
            return True
        async with self.job.scope() as tx:
            return await repo.record_steps(tx, run_id=self.spec.run_id, step=min(found[0], self.spec.total_steps),
                                           losses=[])
