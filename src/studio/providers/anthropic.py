"""Anthropic's Messages API: streamed chat from POST /v1/messages (server-sent events),
discovery from GET /v1/models.

The key goes in `x-api-key`, and every request names the API version it was written
against (`anthropic-version`), so a change on Anthropic's side cannot silently change
the event shapes read here. System prompts are a top-level `system` field, not a role.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, ClassVar

import orjson

from studio.providers.base import (
    ChatMessage,
    ChatUsage,
    Connection,
    ProviderError,
    ProviderUnavailable,
    UpstreamModel,
)
from studio.providers.http import KeyedChat, drain, sse_data, stop_sequences

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096   # the API refuses a request without max_tokens
MODELS_PAGE_SIZE = 100
MODELS_MAX_PAGES = 10       # a server that always says has_more cannot keep discovery looping
# Error event types that say "not now" rather than "not this request" (the same as the
# 429, 500 and 529 statuses the HTTP client already retries).
RETRYABLE_ERRORS = frozenset({"overloaded_error", "rate_limit_error", "api_error", "timeout_error"})


def _base_url(connection: Connection) -> str:
    # An admin used to OpenAI-style base URLs may paste ".../v1"; the paths below add it.
    base = (connection.base_url or DEFAULT_BASE_URL).rstrip("/")
    return base.removesuffix("/v1") or DEFAULT_BASE_URL


class AnthropicChat(KeyedChat):
    name: ClassVar[str] = "anthropic"
    base_url = staticmethod(_base_url)

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"x-api-key": key}

    async def stream_chat(self, *, model: str, messages: Sequence[ChatMessage],
                          params: Mapping[str, Any] | None = None) -> AsyncIterator[str | ChatUsage]:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        body = self._body(model, messages, params or {})
        headers = {"anthropic-version": API_VERSION, "Accept": "text/event-stream"}
        input_tokens: int | None = None
        output_tokens: int | None = None
        stopped = False
        async with (self._http.stream("POST", self._http.url("v1/messages"), json=body, headers=headers) as response,
                    aclosing(sse_data(response, self._http)) as events):
            async for data in events:
                # Each event's data repeats its `event:` name as "type", so the
                # data alone says what arrived.
                event = self._event(data)
                kind = event.get("type")
                if kind == "content_block_delta":
                    delta = event.get("delta")
                    # Only text is shown: thinking and tool-input deltas are not the answer.
                    if isinstance(delta, dict) and delta.get("type") == "text_delta":
                        text = delta.get("text")
                        if isinstance(text, str) and text:
                            yield text
                elif kind in ("message_start", "message_delta"):
                    # The prompt's count comes first; message_delta's counts are
                    # cumulative, so the last one seen is the total.
                    holder = event.get("message") if kind == "message_start" else event
                    usage = holder.get("usage") if isinstance(holder, dict) else None
                    if isinstance(usage, dict):
                        input_tokens = _input_tokens(usage, input_tokens)
                        output_tokens = _count(usage, "output_tokens", output_tokens)
                elif kind == "message_stop":
                    stopped = True
                    await drain(events)  # the body's end: the connection is reused
                    break
                elif kind == "error":
                    raise self._stream_error(event)
                # ping, content_block_start/stop and event types added later carry no text.
        if not stopped:
            raise self._http.error("the chat stream ended before message_stop", retryable=True)
        if input_tokens is not None or output_tokens is not None:
            yield ChatUsage(input_tokens=input_tokens, output_tokens=output_tokens)

    def _body(self, model: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
        turns = [self._message(m) for m in messages
                 # The API refuses blank turns; a missing one between two user turns is
                 # fine, as consecutive turns of one role are read as one.
                 if m.role != "system" and (m.content.strip() or (m.role == "user" and m.images))]
        max_tokens = params.get("max_tokens")
        body: dict[str, Any] = {"model": model, "max_tokens": max_tokens or DEFAULT_MAX_TOKENS,
                                "messages": turns, "stream": True}
        if system:
            body["system"] = system
        for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p")):
            if params.get(ours) is not None:
                body[theirs] = params[ours]
        if params.get("stop"):
            body["stop_sequences"] = stop_sequences(params["stop"])
        return body

    @staticmethod
    def _message(message: ChatMessage) -> dict[str, Any]:
        # There is no tool role: a tool's output without the tool_use id it answers can
        # only be passed on as what the user relays.
        role = "assistant" if message.role == "assistant" else "user"
        if not (message.role == "user" and message.images):
            return {"role": role, "content": message.content}
        # Images before the text: the order Anthropic recommends for questions about them.
        content: list[dict[str, Any]] = [
            {"type": "image", "source": {"type": "base64", "media_type": image.content_type,
                                         "data": base64.b64encode(image.data).decode("ascii")}}
            for image in message.images]
        if message.content.strip():
            content.append({"type": "text", "text": message.content})
        return {"role": role, "content": content}

    def _event(self, data: str) -> dict[str, Any]:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self._http.error("malformed JSON in the chat stream") from None
        if not isinstance(event, dict):
            raise self._http.error("a chat stream event is not a JSON object")
        return event

    def _stream_error(self, event: Mapping[str, Any]) -> ProviderError:
        """An error after the 200 (e.g. overloaded midway): as an event, not a status."""
        error = event.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        return self._http.error(f"error in the chat stream: {kind or 'error'}: {str(message)[:300]}",
                                retryable=kind in RETRYABLE_ERRORS)

    async def list_models(self) -> list[UpstreamModel]:
        models: list[UpstreamModel] = []
        query: dict[str, Any] = {"limit": MODELS_PAGE_SIZE}
        for _ in range(MODELS_MAX_PAGES):
            page = await self._http.json("GET", self._http.url("v1/models"), params=query,
                                         headers={"anthropic-version": API_VERSION})
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise self._http.error("the models reply has no 'data' list")
            for item in data:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    display = item.get("display_name")
                    # The list says nothing of abilities beyond chat (some models take
                    # no images): vision is left for an admin to mark.
                    models.append(UpstreamModel(name=item["id"],
                                                display_name=display if isinstance(display, str) else None,
                                                capabilities=frozenset({"chat"})))
            last_id = page.get("last_id")
            if not page.get("has_more") or not isinstance(last_id, str) or last_id == query.get("after_id"):
                break
            query = {"limit": MODELS_PAGE_SIZE, "after_id": last_id}
        return models


def _count(usage: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    value = usage.get(key)
    return value if isinstance(value, int) else default


def _input_tokens(usage: Mapping[str, Any], default: int | None) -> int | None:
    """Prompt tokens: with prompt caching, `input_tokens` counts only those after the
    last cache breakpoint; the cached and newly cached ones are reported apart."""
    counted = [n for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
               if (n := _count(usage, key)) is not None]
    return sum(counted) if counted else default
