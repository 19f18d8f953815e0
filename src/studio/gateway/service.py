"""The gateway's rules: which model an OpenAI request names, turning OpenAI messages into
Studio's (images from data URLs, for vision models only), the parameters that go to the
vendor, the replies in OpenAI's shapes, and waiting for a generation to finish."""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from studio.auth.identity import Credential, RequestContext
from studio.chat.service import chat_cost_cents
from studio.db.scopes import ApiDatabase, UserScope
from studio.gateway import repository as repo
from studio.gateway.schemas import ChatCompletionRequest, ChatMessageIn
from studio.generation.schemas import PARAMS_BY_PROVIDER
from studio.http.errors import ApiError
from studio.media import service as media_service
from studio.providers.base import ChatImage, ChatMessage, ChatProvider, ChatUsage
from studio.providers.registry import Providers
from studio.storage.base import Storage
from studio.usage import repository as usage_repo

VISION_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
_DATA_URL = re.compile(r"^data:(?P<type>[a-z]+/[a-z0-9.+-]+)(?:;[^,]*)?;base64,(?P<data>.*)$", re.DOTALL)
MAX_IMAGE_BYTES = 20 * 1024 * 1024
TERMINAL = frozenset({"succeeded", "failed", "canceled"})


async def model(tx: UserScope, providers: Providers, *, slug: str, type_: str) -> dict[str, Any]:
    """The enabled model of that slug and type that can run here; else an error that
    says which and what to do (404 for a model the caller cannot see, as everywhere)."""
    row = await repo.model_by_slug(tx, slug=slug)
    if row is None or not row["enabled"]:
        raise ApiError(404, "model_not_found", f"the model {slug!r} does not exist or is not enabled; "
                                               "GET /openai/v1/models lists the ones you can use")
    if row["type"] != type_:
        raise ApiError(400, "invalid_request_error", f"the model {slug!r} is a {row['type']} model, not {type_}")
    reason = providers.unavailable_reason(row)
    if reason:
        raise ApiError(409, "model_unavailable", f"the model {slug!r} cannot run here: {reason}")
    return row


def chat_messages(messages: list[ChatMessageIn], *, vision: bool, slug: str) -> list[ChatMessage]:
    """OpenAI chat messages as Studio's: text parts joined, images decoded from data URLs
    (a URL elsewhere is refused: Studio does not fetch on a client's behalf)."""
    converted = []
    for index, message in enumerate(messages):
        texts: list[str] = []
        images: list[ChatImage] = []
        if isinstance(message.content, str):
            texts.append(message.content)
        for part in message.content if isinstance(message.content, list) else ():
            if part.type == "text" and part.text is not None:
                texts.append(part.text)
            elif part.type == "image_url" and part.image_url is not None:
                if not vision:
                    raise ApiError(400, "invalid_request_error",
                                   f"the model {slug!r} does not accept images (no vision capability)")
                images.append(_image(part.image_url.url, index))
            else:
                raise ApiError(400, "invalid_request_error",
                               f"messages[{index}].content: parts of type {part.type!r} are not supported")
        role = "system" if message.role == "developer" else message.role
        converted.append(ChatMessage(role, "\n".join(texts), tuple(images)))
    return converted


def _image(url: str, index: int) -> ChatImage:
    found = _DATA_URL.match(url)
    if found is None:
        raise ApiError(400, "invalid_request_error",
                       f"messages[{index}]: images must be data URLs (data:image/png;base64,...)")
    content_type = found["type"].lower()
    if content_type not in VISION_TYPES:
        raise ApiError(400, "invalid_request_error", f"messages[{index}]: {content_type} is not an image type "
                                                     f"a model takes ({', '.join(sorted(VISION_TYPES))})")
    try:
        data = base64.b64decode(found["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_request_error", f"messages[{index}]: the image is not valid base64") from None
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise ApiError(400, "invalid_request_error", f"messages[{index}]: an image must hold 1 byte to 20 MiB")
    return ChatImage(content_type, data)


def chat_params(body: ChatCompletionRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    """The model's default parameters, under what the request sets."""
    if body.tools:
        raise ApiError(400, "invalid_request_error", "tools are not supported by this endpoint yet")
    given = {"temperature": body.temperature, "top_p": body.top_p,
             "max_tokens": body.max_completion_tokens or body.max_tokens, "stop": body.stop}
    return {**defaults, **{k: v for k, v in given.items() if v is not None}}


# -- replies in OpenAI's shapes -------------------------------------------------------------


class Completion:
    """One chat completion's identity and the shapes of its chunks and reply."""

    def __init__(self, slug: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.slug = slug

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.slug,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def usage_chunk(self, usage: ChatUsage | None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.slug,
                "choices": [], "usage": usage_object(usage)}

    def reply(self, text: str, usage: ChatUsage | None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.slug,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": usage_object(usage)}


def usage_object(usage: ChatUsage | None) -> dict[str, int]:
    prompt = usage.input_tokens or 0 if usage else 0
    completion = usage.output_tokens or 0 if usage else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def usage_cost(row: dict[str, Any], usage: ChatUsage | None) -> int:
    return chat_cost_cents(row["config"] or {}, usage.input_tokens if usage else None,
                           usage.output_tokens if usage else None)


def chat_adapter(providers: Providers, row: dict[str, Any]) -> ChatProvider:
    adapter = providers.chat(row)
    if adapter is None:
        raise ApiError(409, "model_unavailable", f"the model {row['slug']!r} cannot run here: "
                                                 f"{providers.unavailable_reason(row)}")
    return adapter


async def wait_for(read: Callable[[], Awaitable[dict[str, Any] | None]], woken: Callable[[float], Awaitable[bool]],
                   *, timeout: float) -> dict[str, Any]:
    """Re-reads the generation whenever the event stream wakes us (or every 2 s) until it
    ends; 504 when it takes longer than `timeout` (it goes on: GET /v1/generations shows it)."""
    deadline = time.monotonic() + timeout
    while True:
        row = await read()
        if row is None:
            raise ApiError(404, "not_found", "the generation was deleted meanwhile")
        if row["status"] in TERMINAL:
            return row
        left = deadline - time.monotonic()
        if left <= 0:
            raise ApiError(504, "timeout", f"the generation {row['id']} did not finish within {timeout:.0f}s; "
                                           "it goes on: GET /v1/generations/{id} shows it")
        await woken(min(2.0, left))


async def record_usage(db: ApiDatabase, ctx: RequestContext, cred: Credential, row: dict[str, Any],
                       adapter: ChatProvider, usage: ChatUsage | None) -> None:
    """A completed answer's usage, like a chat answer's (no conversation is stored)."""
    async with db.as_user(cred, ctx) as tx:
        await usage_repo.record_chat_usage(
            tx, message_id=None, provider=adapter.name, model=row["provider_model"],
            input_tokens=usage.input_tokens if usage else None, output_tokens=usage.output_tokens if usage else None,
            cost_cents=usage_cost(row, usage))


async def media_bytes(db: ApiDatabase, ctx: RequestContext, cred: Credential, storage: Storage,
                      media_id: UUID) -> tuple[bytes, str]:
    """A result file of the caller's, whole (images and speech are small), and its type."""
    media = await media_service.find_media(db, ctx, cred, media_id=media_id)
    chunks = [chunk async for chunk in storage.read(media["bucket"], media["key"])]
    return b"".join(chunks), media["content_type"]


def generation_params(provider: str, type_: str, wanted: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI fields this model's parameters know (others it would refuse by name)."""
    schema = PARAMS_BY_PROVIDER.get((provider, type_))
    known = set(schema.model_fields) if schema is not None else set()
    return {k: v for k, v in wanted.items() if v is not None and k in known}
