"""OpenAI-compatible HTTP APIs: OpenAI itself, vLLM, Ollama, llama.cpp's server, ...

They all speak the same protocol under a base URL that includes `/v1`; local servers
need no key, so the base URL alone makes the provider available. Images come from
POST /images/generations, speech from POST /audio/speech, chat from a streamed
POST /chat/completions (server-sent events).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, ClassVar

import orjson
from PIL import Image, ImageOps

from studio.config import Settings
from studio.providers.base import (
    AudioClip,
    ChatMessage,
    ChatProvider,
    ChatUsage,
    Connection,
    GenerationContext,
    GenerationTask,
    MediaOutput,
    Provider,
    ProviderError,
    ProviderUnavailable,
    UpstreamModel,
)
from studio.providers.http import JSON_MAX_BYTES, ProviderHTTP, drain, sse_data

# /audio/speech response_format -> (content type, file extension)
SPEECH_FORMATS = {
    "mp3": ("audio/mpeg", ".mp3"),
    "wav": ("audio/wav", ".wav"),
    "opus": ("audio/ogg", ".opus"),   # Opus in an Ogg container
    "aac": ("audio/aac", ".aac"),
    "flac": ("audio/flac", ".flac"),
    "pcm": ("audio/pcm", ".pcm"),     # raw 16-bit little-endian samples
}
# Parameters the OpenAI API knows; others in the generation's params (seed, steps,
# negative_prompt, stability...) belong to other providers, and OpenAI would reject them.
IMAGE_PARAMS = frozenset({"size", "quality", "n", "style", "background", "output_format", "output_compression"})
SPEECH_PARAMS = frozenset({"speed", "instructions"})


def _client(settings: Settings, connection: Connection) -> ProviderHTTP:
    key = connection.api_key
    return ProviderHTTP("openai", settings, base_url=connection.base_url,
                        auth_headers={"Authorization": f"Bearer {key}"} if key else None)


def _image_type(data: bytes) -> tuple[str, str]:
    """Sniff what an inline image is (gpt-image models may answer JPEG or WebP); PNG otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return "image/png", ".png"



def openai_mask(mask: bytes) -> bytes:
    """Studio's mask (white: paint here, black: keep) as OpenAI's /images/edits takes it:
    a PNG whose fully transparent pixels are where to paint. Grey is partly transparent,
    so a soft brush edge stays soft."""
    try:
        with Image.open(io.BytesIO(mask)) as source:
            grey = source.convert("L")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ProviderError(f"openai: the mask is not an image this server can read ({exc})") from None
    out = Image.new("RGBA", grey.size, (0, 0, 0, 255))
    out.putalpha(ImageOps.invert(grey))
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()


class OpenAICompatible(Provider):
    name: ClassVar[str] = "openai"
    media_types: ClassVar[frozenset[str]] = frozenset({"image", "audio"})

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self._settings = settings
        self._http = _client(settings, connection)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        if task.type == "image":
            return await self._images(task, context)
        if task.type == "audio":
            return await self._speech(task, context)
        raise ProviderError(f"openai: cannot generate {task.type}")

    async def _images(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        params = {k: v for k, v in task.params.items() if k in IMAGE_PARAMS and v is not None}
        width, height = task.params.get("width"), task.params.get("height")
        if "size" not in params and width and height:
            params["size"] = f"{width}x{height}"
        body: dict[str, Any] = {**params, "model": task.provider_model, "prompt": task.prompt}
        # b64_json saves a second download; a model that rejects the field (gpt-image-*
        # always answers base64) sets "response_format": null in its model config.
        response_format = task.model_config.get("response_format", "b64_json")
        if response_format:
            body.setdefault("response_format", response_format)
        if task.inputs:
            # Image-to-image and inpainting: POST /images/edits, the images (and mask) as files.
            field = "image" if len(task.inputs) == 1 else "image[]"
            files = [(field, (path.name, path.read_bytes(), _image_type(path.read_bytes()[:16])[0]))
                     for path in task.inputs]
            if task.mask is not None:
                files.append(("mask", (task.mask.name, openai_mask(task.mask.read_bytes()), "image/png")))
            reply = await self._http.json("POST", self._http.url("images/edits"), files=files,
                                          data={k: str(v) for k, v in body.items()})
            what = "images/edits"
        else:
            reply = await self._http.json("POST", self._http.url("images/generations"), json=body)
            what = "images/generations"
        items = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(items, list) or not items:
            raise self._http.error(f"the {what} reply has no 'data' list")

        outputs = []
        for index, item in enumerate(items):
            inline = item.get("b64_json") if isinstance(item, dict) else None
            url = item.get("url") if isinstance(item, dict) else None
            if isinstance(inline, str):
                outputs.append(self._write_image(inline, context, index))
            elif isinstance(url, str):
                outputs.append(await self._http.download(url, context.workdir, f"image-{index}",
                                                         expect="image/"))
            else:
                raise self._http.error(f"image {index} in the reply has neither 'b64_json' nor 'url'")
        return outputs

    def _write_image(self, inline: str, context: GenerationContext, index: int) -> MediaOutput:
        # base64 is 4/3 of the data: refuse before decoding something too large.
        if len(inline) * 3 // 4 > self._settings.max_result_bytes:
            raise self._http.error(f"image {index} exceeds {self._settings.max_result_bytes} bytes")
        try:
            data = base64.b64decode(inline, validate=True)
        except (binascii.Error, ValueError):
            raise self._http.error(f"image {index} in the reply is not valid base64") from None
        if not data:
            raise self._http.error(f"image {index} in the reply is empty")
        content_type, extension = _image_type(data)
        path = context.workdir / f"image-{index}{extension}"
        path.write_bytes(data)
        return MediaOutput(path=path, content_type=content_type)

    async def _speech(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        fmt = str(task.params.get("format") or task.model_config.get("format") or "mp3").lower()
        if fmt not in SPEECH_FORMATS:
            raise ProviderError(f"openai: unsupported speech format {fmt!r}; one of {', '.join(SPEECH_FORMATS)}")
        content_type, extension = SPEECH_FORMATS[fmt]
        extra = {k: v for k, v in task.params.items() if k in SPEECH_PARAMS and v is not None}
        body = {**extra, "model": task.provider_model, "input": task.prompt,
                "voice": task.params.get("voice") or task.model_config.get("voice") or "alloy",
                "response_format": fmt}
        path = context.workdir / f"speech{extension}"
        await self._http.to_file("POST", self._http.url("audio/speech"), path, json=body, expect="audio/")
        return [MediaOutput(path=path, content_type=content_type)]


class OpenAIChat(ChatProvider):
    name: ClassVar[str] = "openai"

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self._settings = settings
        self._http = _client(settings, connection)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_models(self) -> list[UpstreamModel]:
        """GET /models: every id the server offers (OpenAI, vLLM, llama.cpp, Ollama's /v1, ...)."""
        reply = await self._http.json("GET", self._http.url("models"))
        items = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(items, list):
            raise self._http.error("the /models reply has no 'data' list")
        return [UpstreamModel(name=item["id"]) for item in items
                if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]]

    async def stream_chat(self, *, model: str, messages: Sequence[ChatMessage],
                          params: Mapping[str, Any] | None = None) -> AsyncIterator[str | ChatUsage]:
        # include_usage: the last event before [DONE] carries the token counts (OpenAI,
        # vLLM, llama.cpp and Ollama all send it; a server that does not just omits it).
        body = {**(params or {}), "model": model, "stream": True, "stream_options": {"include_usage": True},
                "messages": [_openai_message(m) for m in messages]}
        url = self._http.url("chat/completions")
        async with self._http.stream("POST", url, json=body, headers={"Accept": "text/event-stream"}) as response:
            if response.headers.get("content-type", "").startswith("application/json"):
                # A server that ignores "stream": the whole completion in one JSON reply.
                for piece in self._whole_reply(await self._http.read(response, JSON_MAX_BYTES,
                                                                     "POST /chat/completions")):
                    yield piece
                return
            finished = False
            async with aclosing(sse_data(response, self._http)) as events:
                async for data in events:
                    if data == "[DONE]":
                        await drain(events)  # the body's end: the connection is reused
                        return
                    content, done, usage = self._delta(data)
                    finished = finished or done
                    if content:
                        yield content
                    if usage is not None:
                        yield usage
        # Older llama.cpp servers end without [DONE]; a finish_reason shows the answer is whole.
        if not finished:
            raise self._http.error("the chat stream ended before [DONE]", retryable=True)

    def _delta(self, data: str) -> tuple[str | None, bool, ChatUsage | None]:
        """(text delta, finished, usage) from one `data:` payload."""
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self._http.error("malformed JSON in the chat stream") from None
        if not isinstance(chunk, dict):
            raise self._http.error("a chat stream event is not a JSON object")
        if "error" in chunk:  # servers report failures after the 200 as an event
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise self._http.error(f"error in the chat stream: {str(message)[:300]}")
        usage = _usage(chunk.get("usage"))
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise self._http.error("a chat stream event has no 'choices' list")
        if not choices:  # e.g. the final usage-only chunk
            return None, False, usage
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        return (content if isinstance(content, str) else None), bool(choice.get("finish_reason")), usage

    def _whole_reply(self, body: bytes) -> list[str | ChatUsage]:
        try:
            reply = orjson.loads(body)
            content = reply["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise self._http.error("malformed chat completion reply") from None
        if not isinstance(content, str):
            raise self._http.error("the chat completion reply has no text content")
        usage = _usage(reply.get("usage"))
        return [content] if usage is None else [content, usage]

    async def transcribe(self, *, model: str, audio: AudioClip, language: str | None = None,
                         prompt: str | None = None, temperature: float | None = None) -> str:
        """POST /audio/transcriptions, a multipart form as Whisper and the servers that copy
        it take (OpenAI, Groq, vLLM, LocalAI, faster-whisper-server, ...). Always the json
        format: every transcription model offers it, where verbose_json is Whisper's alone."""
        fields = {"model": model, "response_format": "json"}
        if language:
            fields["language"] = language
        if prompt:
            fields["prompt"] = prompt
        if temperature is not None:
            fields["temperature"] = str(temperature)
        # Bytes, not a file object: a retried attempt sends the same form again.
        reply = await self._http.json("POST", self._http.url("audio/transcriptions"), data=fields,
                                      files={"file": (audio.filename, audio.data, audio.content_type)})
        text = reply.get("text") if isinstance(reply, dict) else None
        if not isinstance(text, str):
            raise self._http.error("the audio/transcriptions reply has no 'text'")
        return text


def _openai_message(message: ChatMessage) -> dict[str, Any]:
    """A message in the Chat Completions format: images as data-URL content parts."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    for image in message.images:
        url = f"data:{image.content_type};base64,{base64.b64encode(image.data).decode()}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": message.role, "content": parts}


def _usage(value: Any) -> ChatUsage | None:
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    return ChatUsage(input_tokens=prompt if isinstance(prompt, int) else None,
                     output_tokens=completion if isinstance(completion, int) else None)
