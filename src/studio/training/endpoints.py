"""`/v1/training-jobs` (LoRA training runs: start, follow, cancel) and
`/v1/trained-models` (what they produced: list, rename, delete). A run is a job on the
queue: starting one answers 202 at once, a worker trains it. Another user's run or
model answers 404 like a missing one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from studio.http.deps import Cred, Ctx, Db, ProvidersDep, SettingsDep
from studio.http.responses import decode_cursor, json_response, page
from studio.training import repository as repo
from studio.training import service
from studio.training.schemas import (
    TrainedModel,
    TrainedModelPage,
    TrainedModelUpdate,
    TrainingCreate,
    TrainingRun,
    TrainingRunPage,
)

router = APIRouter(prefix="/v1", tags=["training"])


@router.post("/training-jobs", status_code=202, response_model=TrainingRun,
             responses={409: {"description": "the base model cannot run here"},
                        422: {"description": "an empty dataset, or a model that cannot be trained"},
                        429: {"description": "too many runs at once"}})
async def start_training(body: TrainingCreate, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                         settings: SettingsDep) -> Response:
    async with db.as_user(cred, ctx) as tx:
        run = await service.start(tx, providers, body, max_active=settings.max_active_trainings)
    location = f"/v1/training-jobs/{run['id']}"
    return json_response(run, 202, headers={"Location": location})


@router.get("/training-jobs", response_model=TrainingRunPage)
async def list_training(db: Db, ctx: Ctx, cred: Cred, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                        cursor: str | None = None) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_runs(tx, after=after, limit=limit)
    return json_response(page([service.run_json(row) for row in rows], limit))


@router.get("/training-jobs/{run_id}", response_model=TrainingRun)
async def get_training(run_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        return json_response(await service.get(tx, run_id))


@router.post("/training-jobs/{run_id}/cancel", response_model=TrainingRun,
             responses={409: {"description": "the run has already ended"}})
async def cancel_training(run_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """A worker training it stops at its next step."""
    async with db.as_user(cred, ctx) as tx:
        return json_response(await service.cancel(tx, run_id))


@router.get("/trained-models", response_model=TrainedModelPage)
async def list_trained_models(db: Db, ctx: Ctx, cred: Cred, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                              cursor: str | None = None) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_models(tx, after=after, limit=limit)
    return json_response(page(rows, limit))


@router.get("/trained-models/{model_id}", response_model=TrainedModel)
async def get_trained_model(model_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        return json_response(await service.get_model(tx, model_id))


@router.patch("/trained-models/{model_id}", response_model=TrainedModel)
async def rename_trained_model(model_id: UUID, body: TrainedModelUpdate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        return json_response(await service.rename_model(tx, model_id, body.name))


@router.delete("/trained-models/{model_id}", status_code=204)
async def delete_trained_model(model_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Deletes the model and its weights."""
    async with db.as_user(cred, ctx) as tx:
        await service.delete_model(tx, model_id)
    return Response(status_code=204)
