"""Training's rules: what a run may start from (a dataset of the caller's with images, a
local diffusers image model a worker can run, or an image model with a hosted trainer),
how many run at once per user, what a
run looks like to its owner (with its time left), and cancelling."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from studio.datasets import service as datasets
from studio.db.scopes import UserScope
from studio.generation import service as generation
from studio.http.errors import ApiError, not_found
from studio.jobs import repository as jobs
from studio.media import service as media
from studio.providers.registry import Providers
from studio.training import repository as repo
from studio.training.hosted import hosted_config
from studio.training.schemas import TrainingCreate


def run_json(row: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """A run as its owner sees it, with the time left at the pace so far."""
    eta = None
    if row["status"] == "training" and row["started_at"] and row["current_step"] > row["checkpoint_step"]:
        elapsed = ((now or datetime.now(timezone.utc)) - row["updated_at"]).total_seconds()
        spent = (row["updated_at"] - row["started_at"]).total_seconds()
        per_step = spent / max(row["current_step"], 1)
        eta = max(0.0, per_step * (row["total_steps"] - row["current_step"]) - max(elapsed, 0.0))
    return row | {"eta_seconds": eta}


async def start(tx: UserScope, providers: Providers, body: TrainingCreate, *, max_active: int) -> dict[str, Any]:
    """Records the run and enqueues its job in the caller's transaction (both or neither)."""
    dataset = await datasets.get(tx, body.dataset_id)
    if dataset["image_count"] == 0:
        raise ApiError(422, "dataset_empty", "the dataset has no images yet: add some, then train")
    model = await generation.usable_model(tx, providers, model_id=body.base_model_id, type_="image")
    if model["provider"] != "diffusers" and hosted_config(model) is None:
        raise ApiError(422, "not_trainable", "LoRAs are trained on local diffusers image models, or at the "
                                             "provider of a model an admin gave a hosted trainer "
                                             "(docs/training.md); this model has neither")
    if await repo.active_runs(tx) >= max_active:
        raise ApiError(429, "training_limit", f"you have {max_active} training run(s) going, the most at once; "
                                              "wait for one to end or cancel it", headers={"Retry-After": "60"})
    hyperparams = body.hyperparams.model_dump()
    if hyperparams["seed"] is None:
        hyperparams["seed"] = secrets.randbelow(2**31)
    steps = hyperparams.pop("steps")
    run_id = await repo.create(tx, name=body.name or dataset["name"], dataset_id=body.dataset_id,
                               base_model_id=body.base_model_id, total_steps=steps, hyperparams=hyperparams)
    # A local run needs a worker with the local extra; a hosted one runs on any worker.
    await jobs.enqueue(tx, kind="training", payload={"training_job_id": str(run_id)},
                       requires=providers.requirement(model))
    return await get(tx, run_id)


async def get(tx: UserScope, run_id: UUID) -> dict[str, Any]:
    row = await repo.get(tx, run_id=run_id)
    if row is None:
        raise not_found("training run")
    return run_json(row)


async def cancel(tx: UserScope, run_id: UUID) -> dict[str, Any]:
    done, status = await repo.cancel(tx, run_id=run_id)
    if status is None:
        raise not_found("training run")
    if not done:
        raise ApiError(409, "training_finished", f"the run has already ended: {status}")
    return await get(tx, run_id)


async def get_model(tx: UserScope, model_id: UUID) -> dict[str, Any]:
    row = await repo.get_model(tx, model_id=model_id)
    if row is None:
        raise not_found("trained model")
    return row


async def rename_model(tx: UserScope, model_id: UUID, name: str) -> dict[str, Any]:
    if not await repo.rename_model(tx, model_id=model_id, name=name.strip() or name):
        raise not_found("trained model")
    return await get_model(tx, model_id)


async def delete_model(tx: UserScope, model_id: UUID) -> None:
    """The model and its weights file (through the storage outbox)."""
    found, weights = await repo.delete_model(tx, model_id=model_id)
    if not found:
        raise not_found("trained model")
    if weights is not None:
        await media.delete_files(tx, [weights])
