"""Google's Gemini API: streamed chat from POST /v1beta/models/{model}:streamGenerateContent
with `alt=sse` (each event a whole GenerateContentResponse), discovery from GET
/v1beta/models.

The key goes in the `x-goog-api-key` header, never in the `key=` query parameter the
API also accepts: URLs end up in proxies' and servers' logs. System prompts are a
separate `systemInstruction`; the assistant's role is called "model".
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, ClassVar
from urllib.parse import quote

import orjson

from studio.providers.base import (
    ChatMessage,
    ChatUsage,
    Connection,
    ProviderError,
    ProviderUnavailable,
    UpstreamModel,
)
from studio.providers.http import KeyedChat, sse_data, stop_sequences

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
MODELS_PAGE_SIZE = 100
MODELS_MAX_PAGES = 10       # a server that always answers a nextPageToken cannot keep discovery looping
# generationConfig names of the generic chat parameters.
PARAMS = {"temperature": "temperature", "max_tokens": "maxOutputTokens", "top_p": "topP"}
# Finish reasons that mean the answer was withheld, not finished: asking again gets the same.
BLOCKED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})
RETRYABLE_STATUSES = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"})


def _base_url(connection: Connection) -> str:
    # A base URL copied with the version in it: the paths below add /v1beta themselves.
    base = (connection.base_url or DEFAULT_BASE_URL).rstrip("/")
    return base.removesuffix("/v1beta") or DEFAULT_BASE_URL


def _resource(model: str) -> str:
    """The model's resource path. Discovery strips "models/", but a registry entry may
    keep it, or name a tuned model; the name itself is one quoted segment, never a path."""
    collection, slash, rest = model.partition("/")
    if slash and collection in ("models", "tunedModels"):
        return f"{collection}/{quote(rest, safe='')}"
    return f"models/{quote(model, safe='')}"


class GeminiChat(KeyedChat):
    name: ClassVar[str] = "gemini"
    base_url = staticmethod(_base_url)

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    async def stream_chat(self, *, model: str, messages: Sequence[ChatMessage],
                          params: Mapping[str, Any] | None = None) -> AsyncIterator[str | ChatUsage]:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        url = self._http.url(f"v1beta/{_resource(model)}:streamGenerateContent")
        usage: ChatUsage | None = None
        finished = False
        async with (self._http.stream("POST", url, params={"alt": "sse"}, json=self._body(messages, params or {}),
                                      headers={"Accept": "text/event-stream"}) as response,
                    aclosing(sse_data(response, self._http)) as events):
            async for data in events:
                chunk = self._chunk(data)
                # Every chunk carries the counts so far; the last one is the total.
                usage = _usage(chunk.get("usageMetadata")) or usage
                text, finish = self._candidate(chunk)
                if text:
                    yield text
                finished = finished or finish
        # No end-of-stream event: only a finishReason tells a whole answer from a cut one.
        if not finished:
            raise self._http.error("the chat stream ended without a finishReason", retryable=True)
        if usage is not None:
            yield usage

    def _body(self, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> dict[str, Any]:
        contents: list[dict[str, Any]] = []
        for message in messages:
            if message.role == "system" or not (message.content.strip() or (message.role == "user" and message.images)):
                continue  # the API refuses a turn without parts
            # No tool role without a functionResponse to put in it: a tool's output is relayed text.
            role = "model" if message.role == "assistant" else "user"
            parts: list[dict[str, Any]] = []
            if message.role == "user":
                parts += [{"inlineData": {"mimeType": image.content_type,
                                          "data": base64.b64encode(image.data).decode("ascii")}}
                          for image in message.images]
            if message.content.strip():
                parts.append({"text": message.content})
            # Turns must alternate between user and model: consecutive ones of one role
            # (a skipped blank answer, a relayed tool output) become one turn.
            if contents and contents[-1]["role"] == role:
                contents[-1]["parts"] += parts
            else:
                contents.append({"role": role, "parts": parts})
        body: dict[str, Any] = {"contents": contents}
        system = [{"text": m.content} for m in messages if m.role == "system" and m.content]
        if system:
            body["systemInstruction"] = {"parts": system}
        config = {theirs: params[ours] for ours, theirs in PARAMS.items() if params.get(ours) is not None}
        if params.get("stop"):
            config["stopSequences"] = stop_sequences(params["stop"])
        if config:
            body["generationConfig"] = config
        return body

    def _chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self._http.error("malformed JSON in the chat stream") from None
        if not isinstance(chunk, dict):
            raise self._http.error("a chat stream event is not a JSON object")
        if "error" in chunk:  # a failure after the 200 arrives as an event
            raise self._stream_error(chunk["error"])
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            raise self._http.error(f"the prompt was blocked ({feedback['blockReason']})")
        return chunk

    def _candidate(self, chunk: Mapping[str, Any]) -> tuple[str, bool]:
        """(text, finished) of the first candidate; chunks with usage only have none."""
        candidates = chunk.get("candidates")
        if candidates is None or candidates == []:
            return "", False
        if not isinstance(candidates, list) or not isinstance(candidates[0], dict):
            raise self._http.error("a chat stream event has a malformed 'candidates' list")
        candidate = candidates[0]
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        # Thought summaries (thought: true) are the model's reasoning, not its answer.
        text = "".join(part["text"] for part in parts or ()
                       if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought"))
        finish = candidate.get("finishReason")
        if finish in BLOCKED:
            raise self._http.error(f"the answer was blocked (finishReason {finish})")
        return text, bool(finish) and finish != "FINISH_REASON_UNSPECIFIED"

    def _stream_error(self, error: Any) -> ProviderError:
        if not isinstance(error, dict):
            return self._http.error(f"error in the chat stream: {str(error)[:300]}")
        code, status = error.get("code"), error.get("status")
        retryable = status in RETRYABLE_STATUSES or (isinstance(code, int) and (code == 429 or code >= 500))
        return self._http.error(f"error in the chat stream: {status or code}: {str(error.get('message'))[:300]}",
                                retryable=retryable)

    async def list_models(self) -> list[UpstreamModel]:
        models: list[UpstreamModel] = []
        query: dict[str, Any] = {"pageSize": MODELS_PAGE_SIZE}
        for _ in range(MODELS_MAX_PAGES):
            page = await self._http.json("GET", self._http.url("v1beta/models"), params=query)
            items = page.get("models", []) if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise self._http.error("the models reply has no 'models' list")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    continue
                # Embedding (embedContent), AQA (generateAnswer) and Imagen (predict) models cannot chat.
                methods = item.get("supportedGenerationMethods")
                if not isinstance(methods, list) or "generateContent" not in methods:
                    continue
                display = item.get("displayName")
                # The list says nothing of image input (some models have none): vision
                # is left for an admin to mark.
                models.append(UpstreamModel(name=item["name"].removeprefix("models/"),
                                            display_name=display if isinstance(display, str) else None,
                                            capabilities=frozenset({"chat"})))
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token or token == query.get("pageToken"):
                break
            query = {"pageSize": MODELS_PAGE_SIZE, "pageToken": token}
        return models


def _usage(metadata: Any) -> ChatUsage | None:
    if not isinstance(metadata, dict):
        return None
    prompt = metadata.get("promptTokenCount")
    answer = metadata.get("candidatesTokenCount")
    # Thinking tokens are counted apart from the answer's, and billed as output.
    thoughts = metadata.get("thoughtsTokenCount")
    output = [n for n in (answer, thoughts) if isinstance(n, int)]
    if not isinstance(prompt, int) and not output:
        return None
    return ChatUsage(input_tokens=prompt if isinstance(prompt, int) else None,
                     output_tokens=sum(output) if output else None)
