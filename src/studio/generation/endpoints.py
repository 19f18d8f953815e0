"""Generations and the models that make them."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from studio.generation import repository as repo
from studio.generation import service
from studio.generation.schemas import Generation, GenerationCreate, GenerationPage, ModelList
from studio.http.deps import Cred, Ctx, Db, ProvidersDep
from studio.http.errors import ApiError, not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.http.openapi import RATE_LIMITED
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["generation"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("/models", response_model=ModelList)
async def list_models(db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep) -> Response:
    """The enabled models: whether each can run here (and if not, why), and `parameters`,
    the JSON Schema of the `params` POST /v1/generations accepts for it."""
    async with db.as_user(cred, ctx) as tx:
        rows = await service.list_models(tx, providers)
    return json_response({"items": rows, "setup_hint": service.setup_hint(rows)})


@router.post("/generations", status_code=202, response_model=Generation,
             responses={**RATE_LIMITED, 409: {"description": "the model cannot run now (no provider or worker for it)"}})
async def create_generation(body: GenerationCreate, request: Request, db: Db, ctx: Ctx, cred: Cred,
                            providers: ProvidersDep) -> Response:
    """Queues a generation (202, `Location` of the new generation). `params` must match
    the model's `parameters` schema from GET /v1/models: a wrong or unknown parameter is
    a 422 naming it (and, when unknown, the allowed ones)."""
    await ratelimit.check(request, ratelimit.GENERATIONS, cred)
    async with db.as_user(cred, ctx) as tx:
        row = await service.create_generation(tx, providers, type_=body.type, model_id=body.model_id,
                                              prompt=body.prompt, params=body.params,
                                              inputs=[(i.media_id, i.role) for i in body.inputs])
    return json_response(row, 202, headers={"Location": f"/v1/generations/{row['id']}"})


@router.get("/generations", response_model=GenerationPage)
async def list_generations(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 20, cursor: str | None = None,
                           type: Literal["image", "audio", "video"] | None = None,
                           status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None,
                           ) -> Response:
    read = repo.generations_page(type_=type, status=status, after=decode_cursor(cursor), limit=limit)
    return json_response(page(await db.run_as_user(cred, ctx, read), limit))


@router.get("/generations/{generation_id}", response_model=Generation)
async def get_generation(generation_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await repo.get_generation(tx, generation_id=generation_id)
    if row is None:
        raise not_found("generation")
    return json_response(row)


@router.post("/generations/{generation_id}/cancel", response_model=Generation)
async def cancel_generation(generation_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        outcome = await service.cancel_generation(tx, generation_id=generation_id)
    if isinstance(outcome, ApiError):
        raise outcome
    return json_response(outcome)


@router.delete("/generations/{generation_id}", status_code=204)
async def delete_generation(generation_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        deleted = await repo.delete_generation(tx, generation_id=generation_id)
    if not deleted:
        raise not_found("generation")
    return Response(status_code=204)
