"""/openai/v1: the OpenAI API as Studio serves it. Under its own prefix, so Studio's own
/v1/models keeps its meaning. Authenticated like the rest (a Studio API key as the
client's "API key": `Authorization: Bearer <key>`)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from studio.events.listener import SubscribeRefused, listener_for
from studio.gateway import service
from studio.gateway.schemas import ChatCompletionRequest, ImageRequest, OpenAIModelList, SpeechRequest
from studio.generation import repository as generation_repo
from studio.generation import service as generation_service
from studio.http.deps import Cred, Ctx, Db, ProvidersDep, SettingsDep, StorageDep
from studio.http.errors import ApiError
from studio.http.responses import json_response
from studio.providers.base import ChatUsage, ProviderError
from studio.ratelimit import service as ratelimit
from studio.transcription import service as transcription
from studio.transcription.schemas import OpenAITranscriptionFields, multipart_request_body

router = APIRouter(prefix="/openai/v1", tags=["OpenAI-compatible"],
                   responses={401: {"description": "no or a revoked API key"},
                              404: {"description": "no such model for this caller"},
                              409: {"description": "the model cannot run here (and why)"},
                              429: {"description": "rate limit or quota"}})

# How long an image or speech request waits for its generation before answering 504.
GENERATION_WAIT_SECONDS = 300.0


@router.get("/models", response_model=OpenAIModelList)
async def models(db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep) -> Response:
    """The models the caller can use now: `id` is the Studio slug to send as `model`."""
    async with db.as_user(cred, ctx) as tx:
        rows = await generation_service.list_models(tx, providers)
    return json_response({"object": "list", "data": [
        {"id": row["slug"], "object": "model", "created": 0, "owned_by": row["provider"]}
        for row in rows if row["available"]]})


@router.post("/chat/completions", responses={400: {"description": "unsupported input (tools, images for a "
                                                                  "model without vision, ...)"},
                                            502: {"description": "the vendor failed before answering"}})
async def chat_completions(body: ChatCompletionRequest, request: Request, db: Db, ctx: Ctx, cred: Cred,
                           providers: ProvidersDep) -> Response:
    """Chat completions, streamed (`stream: true`, server-sent events ending in `[DONE]`,
    usage last with `stream_options.include_usage`) or not. Images as data-URL parts for
    vision models. Usage is recorded like the chat's."""
    await ratelimit.check(request, ratelimit.CHAT, cred)
    async with db.as_user(cred, ctx) as tx:
        row = await service.model(tx, providers, slug=body.model, type_="chat")
    messages = service.chat_messages(body.messages, vision="vision" in row["capabilities"], slug=row["slug"])
    params = service.chat_params(body, row["default_params"] or {})
    adapter = service.chat_adapter(providers, row)
    completion = service.Completion(row["slug"])
    # Every adapter's stream_chat is an async generator: closing it closes the upstream request.
    pieces = cast(AsyncGenerator[str | ChatUsage, None],
                  adapter.stream_chat(model=row["provider_model"], messages=messages, params=params))

    if not body.stream:
        parts, usage = [], None
        try:
            async with aclosing(pieces) as stream:
                async for piece in stream:
                    if isinstance(piece, ChatUsage):
                        usage = piece
                    else:
                        parts.append(piece)
        except ProviderError as exc:
            raise ApiError(502, "provider_error", str(exc)) from None
        await service.record_usage(db, ctx, cred, row, adapter, usage)
        return json_response(completion.reply("".join(parts), usage))

    # The first piece is awaited before answering: a vendor that fails at once gets an
    # HTTP error, which every client handles, rather than an error inside a 200 stream.
    try:
        first: str | ChatUsage | None = await anext(pieces)
    except StopAsyncIteration:
        first = None
    except ProviderError as exc:
        await pieces.aclose()
        raise ApiError(502, "provider_error", str(exc)) from None
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events() -> AsyncIterator[bytes]:
        usage: ChatUsage | None = None
        async with aclosing(pieces) as stream:
            yield _event(completion.chunk({"role": "assistant", "content": ""}))
            try:
                pending = [first] if first is not None else []
                while True:
                    piece = pending.pop() if pending else await anext(stream)
                    if isinstance(piece, ChatUsage):
                        usage = piece
                    elif piece:
                        yield _event(completion.chunk({"content": piece}))
            except StopAsyncIteration:
                pass
            except ProviderError as exc:
                yield _event({"error": {"message": str(exc), "type": "provider_error", "code": "provider_error"}})
                return
        # Recorded before the end is sent: a client that has its answer may hang up at once.
        await service.record_usage(db, ctx, cred, row, adapter, usage)
        yield _event(completion.chunk({}, "stop"))
        if include_usage:
            yield _event(completion.usage_chunk(usage))
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(data: Any) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


async def _generate(request: Request, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep, *, slug: str,
                    type_: str, prompt: str, wanted: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Queues `count` generations like POST /v1/generations (quota, cost cap, parameters)
    and waits for them; their finished rows, or the first failure as 502."""
    await ratelimit.check(request, ratelimit.GENERATIONS, cred)
    async with db.as_user(cred, ctx) as tx:
        row = await service.model(tx, providers, slug=slug, type_=type_)
        params = service.generation_params(row["provider"], type_, wanted)
        created = [await generation_service.create_generation(tx, providers, type_=type_, model_id=row["id"],
                                                              prompt=prompt, params=params) for _ in range(count)]
        user_id = tx.user.id
    try:
        subscription = listener_for(request.app).subscribe(str(user_id))
    except SubscribeRefused:
        subscription = None

    async def woken(timeout: float) -> bool:
        if subscription is None:
            await asyncio.sleep(min(timeout, 1.0))
            return False
        return await subscription.wait(timeout)

    finished = []
    try:
        for generation in created:
            async def read(generation_id: Any = generation["id"]) -> dict[str, Any] | None:
                async with db.as_user(cred, ctx) as tx:
                    return await generation_repo.get_generation(tx, generation_id=generation_id)
            finished.append(await service.wait_for(read, woken, timeout=GENERATION_WAIT_SECONDS))
    finally:
        if subscription is not None:
            subscription.close()
    for row in finished:
        if row["status"] != "succeeded":
            raise ApiError(502, "provider_error", f"the generation {row['id']} {row['status']}: {row['error'] or ''}")
    return finished


@router.post("/images/generations", responses={502: {"description": "the generation failed"},
                                              504: {"description": "it takes longer; it goes on"}})
async def images(body: ImageRequest, request: Request, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                 storage: StorageDep, settings: SettingsDep) -> Response:
    """Images from a prompt, as `b64_json` (the default) or as a `url` of Studio's own
    (GET with the same API key). Each image is a generation in the user's gallery."""
    finished = await _generate(request, db, ctx, cred, providers, slug=body.model, type_="image",
                               prompt=body.prompt, wanted={"size": body.size, "quality": body.quality},
                               count=body.n)
    data = []
    base = str(request.base_url).rstrip("/")
    for row in finished:
        for media in (row["result"] or {}).get("media", []):
            if body.response_format == "url":
                data.append({"url": f"{base}/v1/media/{media['id']}/content", "revised_prompt": None})
            else:
                content, _ = await service.media_bytes(db, ctx, cred, storage, media["id"])
                data.append({"b64_json": base64.b64encode(content).decode(), "revised_prompt": None})
    created = int(finished[0]["created_at"].timestamp()) if finished else 0
    return json_response({"created": created, "data": data})


@router.post("/audio/speech", response_class=Response,
             responses={200: {"content": {"audio/*": {}}, "description": "the speech"},
                        502: {"description": "the generation failed"}})
async def speech(body: SpeechRequest, request: Request, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                 storage: StorageDep) -> Response:
    """Speech from text, the file itself. Also kept in the user's gallery."""
    voice = body.voice if isinstance(body.voice, str) else None
    [row] = await _generate(request, db, ctx, cred, providers, slug=body.model, type_="audio", prompt=body.input,
                            wanted={"voice": voice, "format": body.response_format, "speed": body.speed}, count=1)
    [media] = (row["result"] or {}).get("media", [None])
    if media is None:
        raise ApiError(502, "provider_error", "the speech generation produced no file")
    content, content_type = await service.media_bytes(db, ctx, cred, storage, media["id"])
    return Response(content, media_type=content_type)


@router.post("/audio/transcriptions", response_class=Response,
             openapi_extra=multipart_request_body(OpenAITranscriptionFields),
             responses={200: {"content": {"application/json": {}, "text/plain": {}},
                              "description": "the text: {\"text\"} (json), the text itself (text), or with "
                                             "language and duration (verbose_json; unknown ones null)"},
                        413: {"description": "the file is over STUDIO_MAX_UPLOAD_BYTES"},
                        415: {"description": "the file is not accepted audio, or not the type it declares"},
                        422: {"description": "a field is invalid, the file is missing, or the model does "
                                             "not transcribe"},
                        502: {"description": "the vendor failed"}})
async def transcriptions(request: Request, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                         settings: SettingsDep) -> Response:
    """Speech to text in Whisper's shape: multipart `file`, `model` (a slug with the
    transcription capability), optional `language`, `prompt`, `response_format`
    (json, text, verbose_json), `temperature`. Like POST /v1/transcriptions: the
    chat rate limit, nothing stored."""
    upload = await transcription.receive(request, db, ctx, cred, settings)
    audio = transcription.clip(upload)
    body = transcription.fields(OpenAITranscriptionFields, upload.fields)
    if body.stream:
        raise ApiError(400, "invalid_request_error", "streamed transcriptions are not supported; omit 'stream'")
    async with db.as_user(cred, ctx) as tx:
        row, adapter = await transcription.model_by_slug(tx, providers, body.model)
    text = await transcription.transcribe(adapter, row, audio, language=body.language, prompt=body.prompt,
                                          temperature=body.temperature)
    if body.response_format == "text":
        return Response(text, media_type="text/plain; charset=utf-8")
    if body.response_format == "verbose_json":
        # Every vendor is asked for plain json (all transcription models offer it), so
        # the language is the one given and the duration and segments are unknown.
        return json_response({"task": "transcribe", "language": body.language, "duration": None, "text": text,
                              "segments": None})
    return json_response({"text": text})
