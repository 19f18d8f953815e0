"""Ollama's native API: streamed chat from POST /api/chat (newline-delimited JSON),
discovery from GET /api/tags.

The native API rather than Ollama's OpenAI-compatible /v1: it takes images on the
message itself, reports token counts on its last line without being asked, and lists
the installed models with the families that say whether they see images. A local
server needs no key; one behind an authenticating proxy gets the connection's key as
a bearer token.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, ClassVar

from studio.config import Settings
from studio.providers.base import (
    ChatMessage,
    ChatProvider,
    ChatUsage,
    Connection,
    UpstreamModel,
)
from studio.providers.http import ProviderHTTP, drain, json_lines

DEFAULT_BASE_URL = "http://127.0.0.1:11434"
# `options` names of the generic chat parameters.
OPTIONS = {"temperature": "temperature", "max_tokens": "num_predict", "top_p": "top_p"}
# Model families with a vision encoder: LLaVA-style projectors report "clip", Llama 3.2
# Vision "mllama".
VISION_FAMILIES = frozenset({"clip", "mllama"})


def _base_url(connection: Connection) -> str:
    # A base URL pasted with /api, or with the /v1 of Ollama's OpenAI-compatible API:
    # the paths below add /api themselves.
    base = (connection.base_url or DEFAULT_BASE_URL).rstrip("/")
    return base.removesuffix("/api").removesuffix("/v1") or DEFAULT_BASE_URL


def _stops(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


class OllamaChat(ChatProvider):
    name: ClassVar[str] = "ollama"

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self._settings = settings
        self._connection = connection
        key = connection.api_key or ""
        self._http = ProviderHTTP("ollama", settings, base_url=_base_url(connection),
                                  auth_headers={"Authorization": f"Bearer {key}"} if key else None)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream_chat(self, *, model: str, messages: Sequence[ChatMessage],
                          params: Mapping[str, Any] | None = None) -> AsyncIterator[str | ChatUsage]:
        body = self._body(model, messages, params or {})
        usage: ChatUsage | None = None
        done = False
        async with (self._http.stream("POST", self._http.url("api/chat"), json=body,
                                      headers={"Accept": "application/x-ndjson"}) as response,
                    aclosing(json_lines(response, self._http)) as lines):
            async for line in lines:
                if not isinstance(line, dict):
                    raise self._http.error("a chat stream line is not a JSON object")
                if "error" in line:  # a failure after the 200 (the model runner died...) is a line
                    raise self._http.error(f"error in the chat stream: {str(line['error'])[:300]}")
                message = line.get("message")
                content = message.get("content") if isinstance(message, dict) else None
                # Thinking models put their reasoning in message.thinking: not the answer.
                if isinstance(content, str) and content:
                    yield content
                if line.get("done") is True:
                    done = True
                    usage = _usage(line)
                    await drain(lines)  # the body's end: the connection is reused
                    break
        if not done:
            raise self._http.error('the chat stream ended before "done": true', retryable=True)
        if usage is not None:
            yield usage

    def _body(self, model: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": [self._message(m) for m in messages], "stream": True}
        options = {theirs: params[ours] for ours, theirs in OPTIONS.items() if params.get(ours) is not None}
        if params.get("stop"):
            options["stop"] = _stops(params["stop"])
        if options:
            body["options"] = options
        return body

    @staticmethod
    def _message(message: ChatMessage) -> dict[str, Any]:
        # Ollama knows all four roles, system and tool included, as they are.
        out: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "user" and message.images:
            # Bare base64, without a data: prefix or a media type: the server sniffs it.
            out["images"] = [base64.b64encode(image.data).decode("ascii") for image in message.images]
        return out

    async def list_models(self) -> list[UpstreamModel]:
        reply = await self._http.json("GET", self._http.url("api/tags"))
        items = reply.get("models") if isinstance(reply, dict) else None
        if not isinstance(items, list):
            raise self._http.error("the api/tags reply has no 'models' list")
        models = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            details = item.get("details")
            families = details.get("families") if isinstance(details, dict) else None
            vision = isinstance(families, list) and not VISION_FAMILIES.isdisjoint(
                f for f in families if isinstance(f, str))
            models.append(UpstreamModel(name=item["name"], display_name=item["name"],
                                        capabilities=frozenset({"chat", "vision"} if vision else {"chat"})))
        return models


def _usage(line: Mapping[str, Any]) -> ChatUsage | None:
    prompt, answer = line.get("prompt_eval_count"), line.get("eval_count")
    if not isinstance(prompt, int) and not isinstance(answer, int):
        return None
    return ChatUsage(input_tokens=prompt if isinstance(prompt, int) else None,
                     output_tokens=answer if isinstance(answer, int) else None)
