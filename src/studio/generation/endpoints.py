"""Generations, models and media downloads."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from studio.generation import repository as repo
from studio.generation.schemas import (
    PARAMS_BY_PROVIDER,
    Generation,
    GenerationCreate,
    GenerationPage,
    ModelList,
)
from studio.http.deps import Cred, Ctx, Db
from studio.http.errors import ApiError, not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.providers.base import Provider
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["generation"])

Limit = Annotated[int, Query(ge=1, le=100)]
# When an admin has not set a quota row for the user (the quotas table's defaults).
DEFAULT_JOBS_PER_DAY = 200
DEFAULT_COST_CAP_CENTS = 1000


def _providers(request: Request) -> dict[str, Provider]:
    return request.app.state.providers


def _unavailable(providers: dict[str, Provider], name: str) -> str | None:
    provider = providers.get(name)
    if provider is None:
        return f"no provider named {name!r} is installed"
    return provider.unavailable_reason()


@router.get("/models", response_model=ModelList)
async def list_models(request: Request, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_models(tx)
    providers = _providers(request)
    chat = request.app.state.chat_providers
    for row in rows:
        reason = (chat[row["provider"]].unavailable_reason() if row["type"] == "chat" and row["provider"] in chat
                  else _unavailable(providers, row["provider"]))
        row["available"], row["unavailable_reason"] = reason is None, reason
    return json_response({"items": rows})


@router.post("/generations", status_code=202, response_model=Generation)
async def create_generation(body: GenerationCreate, request: Request, db: Db, ctx: Ctx, cred: Cred) -> Response:
    await ratelimit.check(request, ratelimit.GENERATIONS, cred)
    providers = _providers(request)
    async with db.as_user(cred, ctx) as tx:
        model = await repo.visible_model(tx, model_id=body.model_id)
        if model is None or not model["enabled"]:
            raise not_found("model")
        if model["type"] != body.type:
            raise ApiError(422, "validation_error", f"model {body.model_id} generates {model['type']}, not {body.type}")
        reason = _unavailable(providers, model["provider"])
        if reason:
            # No fake output: an unusable model is refused up front.
            raise ApiError(409, "model_unavailable", f"this model cannot run here: {reason}")
        params = _validated_params(model["provider"], body.type, body.params)
        quota = await repo.quota_state(tx, model_id=body.model_id, default_jobs_per_day=DEFAULT_JOBS_PER_DAY,
                                       default_cost_cap_cents=DEFAULT_COST_CAP_CENTS)
        if quota.jobs_today >= quota.jobs_per_day:
            raise ApiError(429, "quota_exceeded", f"daily generation quota of {quota.jobs_per_day} reached",
                           headers={"Retry-After": "3600"})
        if quota.spent_cents + quota.price_cents > quota.cost_cap_cents:
            raise ApiError(402, "cost_cap_reached",
                           f"this generation costs {quota.price_cents} cents; {quota.spent_cents} of your monthly "
                           f"{quota.cost_cap_cents} are spent or reserved")
        row = await repo.create_generation(tx, type_=body.type, model_id=body.model_id, provider=model["provider"],
                                           prompt=body.prompt, params=params)
    return json_response(row, 202, headers={"Location": f"/v1/generations/{row['id']}"})


def _validated_params(provider: str, type_: str, params: dict[str, Any]) -> dict[str, Any]:
    schema = PARAMS_BY_PROVIDER.get((provider, type_))
    if schema is None:
        if params:
            raise ApiError(422, "validation_error", f"{provider} takes no parameters for {type_}")
        return {}
    try:
        return schema.model_validate(params).model_dump(exclude_none=True)
    except ValidationError as exc:
        details = "; ".join(f"params.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(422, "validation_error", details) from exc


@router.get("/generations", response_model=GenerationPage)
async def list_generations(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 20, cursor: str | None = None,
                           type: Literal["image", "audio", "video"] | None = None,  # noqa: A002 - API name
                           status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None,
                           ) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_generations(tx, type_=type, status=status, after=after, limit=limit)
    return json_response(page(rows, limit))


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
        row = await repo.cancel_generation(tx, generation_id=generation_id)
        current = row or await repo.get_generation(tx, generation_id=generation_id)
    if current is None:
        raise not_found("generation")
    if row is None:
        raise ApiError(409, "conflict", f"the generation is already {current['status']}")
    return json_response(row)


@router.delete("/generations/{generation_id}", status_code=204)
async def delete_generation(generation_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        deleted = await repo.delete_generation(tx, generation_id=generation_id)
    if not deleted:
        raise not_found("generation")
    return Response(status_code=204)
