"""Generation's rules: which models a user sees and may run, whether a model can run
here, which parameters it takes, and the daily quota and monthly cost cap (F10). The
worker's side, running a generation, is the job kind in tasks.py."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from studio.db.scopes import UserScope
from studio.generation import repository as repo
from studio.generation.schemas import PARAMS_BY_PROVIDER
from studio.http.errors import ApiError, not_found
from studio.jobs import repository as jobs
from studio.providers.registry import Providers

# When an admin has not set a quota row for the user (the quotas table's defaults).
DEFAULT_JOBS_PER_DAY = 200
DEFAULT_COST_CAP_CENTS = 1000


async def list_models(tx: UserScope, providers: Providers) -> list[dict[str, Any]]:
    """The enabled models, each saying whether it can run here and, if not, why."""
    rows = await repo.list_models(tx)
    for row in rows:
        reason = providers.unavailable_reason(row["provider"], row["type"])
        row["available"], row["unavailable_reason"] = reason is None, reason
    return rows


async def create_generation(tx: UserScope, providers: Providers, *, type_: str, model_id: UUID, prompt: str,
                            params: dict[str, Any]) -> dict[str, Any]:
    """Checks the model, its parameters, the quota and the cost cap, then records the
    generation and enqueues its job in the caller's transaction (both or neither)."""
    model = await repo.visible_model(tx, model_id=model_id)
    if model is None or not model["enabled"]:
        raise not_found("model")
    if model["type"] != type_:
        raise ApiError(422, "validation_error", f"model {model_id} generates {model['type']}, not {type_}")
    reason = providers.unavailable_reason(model["provider"], model["type"])
    if reason:
        # No fake output: an unusable model is refused up front.
        raise ApiError(409, "model_unavailable", f"this model cannot run here: {reason}")
    params = validated_params(model["provider"], type_, params)
    quota = await repo.quota_state(tx, model_id=model_id, default_jobs_per_day=DEFAULT_JOBS_PER_DAY,
                                   default_cost_cap_cents=DEFAULT_COST_CAP_CENTS)
    if quota.jobs_today >= quota.jobs_per_day:
        raise ApiError(429, "quota_exceeded", f"daily generation quota of {quota.jobs_per_day} reached",
                       headers={"Retry-After": "3600"})
    if quota.spent_cents + quota.price_cents > quota.cost_cap_cents:
        raise ApiError(402, "cost_cap_reached",
                       f"this generation costs {quota.price_cents} cents; {quota.spent_cents} of your monthly "
                       f"{quota.cost_cap_cents} are spent or reserved")
    generation_id = uuid4()
    return await repo.create_generation(
        tx, generation_id=generation_id, type_=type_, model_id=model_id, provider=model["provider"], prompt=prompt,
        params=params, enqueue=lambda: jobs.enqueue(tx, kind="generation", generation_id=generation_id))


def validated_params(provider: str, type_: str, params: dict[str, Any]) -> dict[str, Any]:
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


async def cancel_generation(tx: UserScope, *, generation_id: UUID) -> dict[str, Any] | ApiError:
    """Queued or running -> canceled; a running job notices at its next heartbeat. The
    refusal (404, 409) is returned, for the caller to raise once its scope has ended:
    the transaction commits either way."""
    row = await repo.cancel_generation(tx, generation_id=generation_id)
    if row is not None:
        return row
    current = await repo.get_generation(tx, generation_id=generation_id)
    if current is None:
        return not_found("generation")
    return ApiError(409, "conflict", f"the generation is already {current['status']}")
