"""POST /v1/webhooks/{provider}: a provider tells us a job finished.

Order of checks, each cheaper than the next and none trusting the caller:
unknown provider (404, body unread) -> body over 1 MiB (413, counted while reading)
-> signature and 5-minute window (401) -> JSON object (400) -> stored once (409 on
replay) -> 202. There is no unsigned mode: a provider without a configured secret does
not exist here.
"""

from __future__ import annotations

import logging

import orjson
import psycopg.errors
from fastapi import APIRouter, Request
from starlette.responses import Response

from studio.config import Settings, SettingsError
from studio.http.deps import Ctx, Db, WebhookSecrets
from studio.http.errors import ApiError, not_found
from studio.http.responses import json_response
from studio.webhooks import repository as repo
from studio.webhooks import signatures

log = logging.getLogger("studio.webhooks")

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

# Own cap, independent of settings.max_body_bytes (which may be raised for uploads):
# a prediction body is a few KB; anything near this size is not a real delivery.
MAX_WEBHOOK_BYTES = 1_048_576

# Providers that can send signed webhooks, and the payload field naming their job
# (the id recorded in generations.provider_job_id when the job was created).
JOB_ID_FIELDS = {
    "replicate": "id",          # the prediction object itself
    "comfyui": "prompt_id",
}


def secrets_from_settings(settings: Settings) -> dict[str, bytes]:
    """HMAC keys of the providers with a `STUDIO_WEBHOOK_SECRET_<PROVIDER>`, decoded once
    at start-up so that a malformed secret stops the server instead of every delivery."""
    keys: dict[str, bytes] = {}
    for provider in JOB_ID_FIELDS:
        value = getattr(settings, f"webhook_secret_{provider}", None)
        if value is None or not value.get_secret_value():
            continue
        try:
            keys[provider] = signatures.decode_secret(value.get_secret_value())
        except ValueError as exc:
            raise SettingsError(f"STUDIO_WEBHOOK_SECRET_{provider.upper()}: {exc}") from None
    return keys


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _too_large()  # refuse early; the count below is what actually holds
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise _too_large()
    return bytes(body)


def _job_id(provider: str, payload: dict) -> str | None:
    value = payload.get(JOB_ID_FIELDS[provider])
    # Anything the column could not hold cannot name a generation either.
    return value if isinstance(value, str) and 1 <= len(value) <= 200 else None


@router.post("/{provider}", status_code=202, summary="Receive a signed provider webhook")
async def receive_webhook(provider: str, request: Request, db: Db, ctx: Ctx, keys: WebhookSecrets) -> Response:
    key = keys.get(provider)
    if key is None or provider not in JOB_ID_FIELDS:
        raise not_found("webhook provider")

    body = await _read_body(request)
    delivery_id = request.headers.get("webhook-id")
    try:
        signatures.verify(key, delivery_id=delivery_id, timestamp=request.headers.get("webhook-timestamp"),
                          signature=request.headers.get("webhook-signature"), body=body)
    except signatures.SignatureError as exc:
        log.warning("webhook from %s refused: %s", provider, exc, extra={"request_id": ctx.request_id})
        raise ApiError(401, "invalid_signature", str(exc)) from None
    assert delivery_id is not None  # verify() refuses a missing id

    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed_json", "the webhook body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "malformed_json", "the webhook body must be a JSON object")

    try:
        async with db.as_anon(ctx) as tx:
            generation_id = await repo.record_webhook(
                tx, provider=provider, delivery_id=delivery_id, provider_job_id=_job_id(provider, payload),
                payload_json=body.decode("utf-8"))  # orjson has already checked it is UTF-8
    except psycopg.errors.UniqueViolation:
        raise ApiError(409, "webhook_replayed", "this delivery was already received") from None
    except psycopg.errors.DataError:
        # Valid JSON that jsonb cannot hold, e.g. "\u0000" in a string.
        raise ApiError(400, "malformed_json", "the webhook body cannot be stored") from None
    log.info("webhook %s/%s stored (generation %s)", provider, delivery_id, generation_id or "unknown",
             extra={"request_id": ctx.request_id})
    # The same answer whether or not a generation matched: the sender learns nothing.
    return json_response({"received": True}, 202)
