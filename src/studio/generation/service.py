"""Generation's rules: which models a user sees and may run, whether a model can run
here, which parameters it takes, and the daily quota and monthly cost cap (F10). The
worker's side, running a generation, is the job kind in tasks.py."""

from __future__ import annotations

import copy
import functools
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError

from studio.db.scopes import UserScope
from studio.generation import repository as repo
from studio.generation.schemas import HOSTED_TRAINED, OPENAI_VOICES, PARAMS_BY_PROVIDER, TRAINED, voices_of
from studio.http.errors import ApiError, not_found
from studio.jobs import repository as jobs
from studio.media import repository as media_repo
from studio.providers.registry import SETUP_HINT, Providers
from studio.training.hosted import hosted_config

# When an admin has not set a quota row for the user (the quotas table's defaults).
DEFAULT_JOBS_PER_DAY = 200
DEFAULT_COST_CAP_CENTS = 1000


async def list_models(tx: UserScope, providers: Providers) -> list[dict[str, Any]]:
    """The enabled models, each saying whether it can run here and, if not, why, and
    which parameters it takes (a JSON Schema)."""
    rows = await repo.list_models(tx)
    for row in rows:
        reason = providers.unavailable_reason(row)
        row["available"], row["unavailable_reason"] = reason is None, reason
        del row["connection_id"]  # the admins' business (GET /v1/admin/models)
        config = row.pop("config") or {}
        row["parameters"] = params_schema(row["provider"], row["type"], voices_of(config))
        row["base_model_id"] = None
        hosted = hosted_config({"provider": row["provider"], "config": config}) is not None
        row["trainable"] = row["type"] == "image" and (row["provider"] == "diffusers" or hosted)
    for trained in await repo.trained_models(tx):
        reason = providers.unavailable_reason(trained)
        rows.append({
            "id": trained["id"], "slug": f"trained/{trained['id'].hex[:12]}", "type": trained["type"],
            "display_name": f"{trained['name']} (LoRA on {trained['base_name']})", "provider": trained["provider"],
            "description": "a model you trained", "capabilities": trained["capabilities"],
            "available": reason is None, "unavailable_reason": reason, "base_model_id": trained["base_model_id"],
            "trainable": False, "parameters": params_schema(HOSTED_TRAINED if trained["provider_weights"] else TRAINED,
                                        trained["type"])})
    return rows


def setup_hint(models: list[dict[str, Any]]) -> str | None:
    """What to do when no chat model can run: the first thing a new installation needs."""
    if any(m["type"] == "chat" and m["available"] for m in models):
        return None
    return SETUP_HINT


NO_PARAMS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def params_schema(provider: str, type_: str, voices: list[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of the `params` a (provider, type) takes: the whitelist that
    validated_params() applies, as an object schema a client can build a form from or
    validate with. Every parameter is optional: its property is the non-null schema
    (type, enum, minimum/maximum, multipleOf, maxLength, pattern, description) with
    default null, null or omitted meaning the provider's default. Self-contained: no
    $ref, no $defs. Those without a whitelist (chat, or a provider that takes none)
    take nothing.

    A speech model lists its voices: the admin's list as the `voice` enum (the only
    values then accepted), else, for OpenAI-compatible speech, OpenAI's voices as
    `examples`."""
    schema = PARAMS_BY_PROVIDER.get((provider, type_))
    if schema is None:
        return NO_PARAMS
    result = _schema_of(schema)
    voice = result["properties"].get("voice")
    if voice is None or not (voices or (provider, type_) == ("openai", "audio")):
        return result
    voice = {k: v for k, v in voice.items() if k not in ("pattern", "minLength", "maxLength")}
    if voices:
        voice["enum"] = list(voices)
    else:
        voice["examples"] = list(OPENAI_VOICES)
    return {**result, "properties": {**result["properties"], "voice": voice}}


@functools.cache
def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    properties = {}
    for name, prop in raw.get("properties", {}).items():
        prop = _inline(prop, defs)
        options = [option for option in prop.pop("anyOf", [prop]) if option.get("type") != "null"]
        flat = {k: v for k, v in options[0].items() if k != "title"} if len(options) == 1 else {"anyOf": options}
        flat.update({k: v for k, v in prop.items() if k in ("description", "default")})
        flat.setdefault("default", None)
        properties[name] = flat
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _inline(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """`node` with every {"$ref": "#/$defs/X"} replaced by X itself."""
    if depth > 20:
        raise ValueError("a params schema nests too deep (a recursive model?)")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = copy.deepcopy(defs[ref.removeprefix("#/$defs/")])
            return _inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs, depth + 1)
        return {k: _inline(v, defs, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs, depth + 1) for v in node]
    return node


async def usable_model(tx: UserScope, providers: Providers, *, model_id: UUID, type_: str) -> dict[str, Any]:
    """An enabled model the caller may use, of `type_`, that can run here: 404, 422 or 409
    otherwise (also for training runs, which start from a base model)."""
    return _usable(await repo.visible_model(tx, model_id=model_id), providers, model_id=model_id, type_=type_)


def _usable(model: dict[str, Any] | None, providers: Providers, *, model_id: UUID, type_: str) -> dict[str, Any]:
    if model is None or not model["enabled"]:
        raise not_found("model")
    if model["type"] != type_:
        raise ApiError(422, "validation_error", f"model {model_id} generates {model['type']}, not {type_}")
    reason = providers.unavailable_reason(model)
    if reason:
        # No fake output: an unusable model is refused up front.
        raise ApiError(409, "model_unavailable", f"this model cannot run here: {reason}")
    return model


async def create_generation(tx: UserScope, providers: Providers, *, type_: str, model_id: UUID, prompt: str,
                            params: dict[str, Any], inputs: list[tuple[UUID, str]] | None = None) -> dict[str, Any]:
    """Checks the model, its parameters, the quota and the cost cap, then records the
    generation and enqueues its job in the caller's transaction (both or neither)."""
    found = await repo.visible_model(tx, model_id=model_id)
    # Not in the registry: maybe a model the caller trained, which runs as its base model
    # with its LoRA (looked up only then: the common path costs no query more). Trained on
    # the worker, the LoRA is an input file; at a provider, the base model's LoRA input
    # names the trained version there.
    trained = await repo.trained_model(tx, model_id=model_id) if found is None and type_ == "image" else None
    lora_field = None
    if trained is not None:
        model = await usable_model(tx, providers, model_id=trained["base_model_id"], type_=type_)
        if trained["provider_weights"]:
            lora_field = ((model["config"] or {}).get("training") or {}).get("lora_field", "lora_weights")
            # Sent back by "Run again" as it was recorded: the server sets it.
            params = {k: v for k, v in params.items() if k != lora_field}
        params = validated_params(HOSTED_TRAINED if lora_field else TRAINED, type_, params)
    else:
        model = _usable(found, providers, model_id=model_id, type_=type_)
        params = validated_params(model["provider"], type_, params, voices=voices_of(model["config"]))
    model_id = model["id"]
    inputs = inputs or []
    await _check_inputs(tx, model, type_, inputs)
    if trained is not None:
        if lora_field:
            params = {**params, lora_field: trained["provider_weights"]}
        else:
            inputs = [*inputs, (trained["weights_media_id"], "lora")]
        # Recorded with the parameters, so the generation says which model the user chose
        # (its model_id is the base model); clients drop it when they send them again.
        params = {**params, "trained_model_id": str(trained["id"])}
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
    row = await repo.create_generation(
        tx, generation_id=generation_id, type_=type_, model_id=model_id, provider=model["provider"], prompt=prompt,
        params=params, enqueue=lambda: jobs.enqueue(tx, kind="generation", generation_id=generation_id,
                                                     requires=providers.requirement(model)),
        inputs=inputs)
    return row | {"inputs": [{"media_id": media_id, "role": role} for media_id, role in inputs]}


# Which inputs a type takes, and the capability a model needs for each.
_INPUT_RULES: dict[str, dict[str, str]] = {
    "image": {"image": "image-to-image", "mask": "inpainting"},
    "video": {"image": "image-to-video", "audio": "image-to-video"},
    "audio": {},
}
_INPUT_TYPES = {"image": "image/", "mask": "image/", "audio": "audio/"}


async def _check_inputs(tx: UserScope, model: dict[str, Any], type_: str, inputs: list[tuple[UUID, str]]) -> None:
    """Each input is one of the caller's files (404 otherwise, as for anything of someone
    else's), of the right kind, for a model with the capability it needs (422 naming it)."""
    capabilities = set(model.get("capabilities") or [])
    roles = [role for _, role in inputs]
    for index, (media_id, role) in enumerate(inputs):
        needed = _INPUT_RULES[type_].get(role)
        # An inpainting model also edits whole images.
        if needed is None or (needed not in capabilities
                              and not (needed == "image-to-image" and "inpainting" in capabilities)):
            takes = sorted(c for c in capabilities if c in {"image-to-image", "inpainting", "image-to-video"})
            raise ApiError(422, "validation_error",
                           f"inputs[{index}]: this model does not take {role} input for {type_}"
                           + (f"; it takes: {', '.join(takes)}" if takes else "; it takes no input media"))
        media = await media_repo.get_media(tx, media_id=media_id)
        if media is None:
            raise not_found(f"media {media_id}")
        if not media["content_type"].startswith(_INPUT_TYPES[role]):
            raise ApiError(422, "validation_error",
                           f"inputs[{index}]: a {role} input must be {_INPUT_TYPES[role]}*, not {media['content_type']}")
    if "mask" in roles and (roles.count("mask") != 1 or roles.count("image") != 1):
        raise ApiError(422, "validation_error", "inputs: an inpainting takes exactly one image and one mask")


def validated_params(provider: str, type_: str, params: dict[str, Any], *,
                     voices: list[str] | None = None) -> dict[str, Any]:
    """The parameters the model's whitelist accepts (None values dropped), else a 422
    naming each wrong parameter; an unknown one is answered with the allowed ones, a
    voice outside the model's list (when it has one) with its voices."""
    schema = PARAMS_BY_PROVIDER.get((provider, type_))
    if schema is None:
        if params:
            named = ", ".join(f"params.{name}" for name in sorted(params))
            raise ApiError(422, "validation_error",
                           f"{named}: unknown parameter; this model ({provider} {type_}) takes no parameters")
        return {}
    try:
        valid = schema.model_validate(params).model_dump(exclude_none=True)
    except ValidationError as exc:
        allowed = ", ".join(schema.model_fields)
        problems = []
        for error in exc.errors():
            where = "params." + ".".join(map(str, error["loc"]))
            if error["type"] == "extra_forbidden":
                problems.append(f"{where}: unknown parameter for {provider} {type_}; allowed: {allowed}")
            else:
                problems.append(f"{where}: {error['msg']}")
        raise ApiError(422, "validation_error", "; ".join(problems)) from exc
    if voices and "voice" in valid and valid["voice"] not in voices:
        raise ApiError(422, "validation_error",
                       f"params.voice: {valid['voice']!r} is not one of this model's voices; allowed: "
                       + ", ".join(voices))
    return valid


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
