"""The provider interface: what a worker needs from anything that generates media.

A provider turns one generation task into files. It never touches the database or the
storage: the worker records progress and the provider's job id through the context,
and stores the files it returns. Every external call has a timeout and a bounded
retry budget; failures are ProviderError, marked retryable or not, never a crash.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable
from uuid import UUID

MediaType = Literal["image", "audio", "video"]


class ProviderError(Exception):
    """The provider could not produce the result. `retryable` says whether trying the
    same task again later may help (timeouts, 5xx, 429), or not (bad input, 4xx)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ProviderUnavailable(ProviderError):
    """Not configured here (no API key, no base URL, binary missing)."""


@dataclass(frozen=True)
class GenerationTask:
    generation_id: UUID
    type: MediaType
    provider_model: str                          # the provider's own model name (model_registry.provider_model)
    prompt: str
    params: Mapping[str, Any] = field(default_factory=dict)        # validated by the API
    model_config: Mapping[str, Any] = field(default_factory=dict)  # model_registry.config
    inputs: Sequence[Path] = ()                  # local copies of input media, in order (images, audio)
    mask: Path | None = None                     # inpainting: where to paint (white), for inputs[0]
    lora: Path | None = None                     # a trained model: its LoRA weights (safetensors), on the base model


@dataclass(frozen=True)
class MediaOutput:
    path: Path          # a file the provider wrote under context.workdir
    content_type: str   # e.g. audio/wav, video/mp4, image/png


class GenerationContext(Protocol):
    """What the worker offers a running provider."""

    workdir: Path  # private scratch directory, removed after the task

    async def progress(self, percent: int) -> None:
        """Report progress 0-100; cheap to call often (the worker throttles writes)."""

    async def provider_job(self, provider_job_id: str) -> None:
        """Record the provider's own job id (webhooks find the generation by it)."""

    def cancelled(self) -> bool:
        """True once the user cancelled: stop as soon as possible and raise ProviderError."""

    async def webhook_arrived(self, timeout: float) -> bool:
        """Sleeps up to `timeout` seconds between polls of an asynchronous provider;
        returns True early when a signed webhook about this generation has arrived."""


class Provider(ABC):
    """One provider, configured from Settings. Instances are reused across tasks."""

    name: ClassVar[str]                       # matches model_registry.provider
    media_types: ClassVar[frozenset[str]]     # what it can generate

    def unavailable_reason(self) -> str | None:
        """None when usable; otherwise why not (shown by GET /v1/models)."""
        return None

    @abstractmethod
    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        ...

    async def check(self) -> str | None:
        """The admin's connection test: one cheap request with the stored settings and
        key, answered with what the server said (a sentence), or ProviderError. None:
        this provider has nothing to ask without generating."""
        return None

    async def aclose(self) -> None:
        """Release clients (HTTP connection pools)."""


@dataclass(frozen=True)
class ChatImage:
    """An image attached to a chat message, sent inline to vision models."""

    content_type: str   # image/png, image/jpeg, image/webp, image/gif
    data: bytes


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    images: Sequence[ChatImage] = ()


@dataclass(frozen=True)
class ChatUsage:
    """Tokens an answer used, as the vendor counted them; yielded once, after the text."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class UpstreamModel:
    """A model a connection's server offers (discovery), by its upstream name."""

    name: str                          # what the vendor's API takes as its model name
    display_name: str | None = None
    capabilities: frozenset[str] = frozenset()   # a guess when the vendor says it (e.g. "chat", "vision")


@dataclass(frozen=True)
class Connection:
    """A provider connection as a process runs it (public.provider_connections, key
    decrypted). Adapters receive it and never read Settings for a URL or a key."""

    id: UUID
    name: str
    kind: str              # which adapter speaks to it: openai, anthropic, gemini, ollama, ...
    base_url: str
    api_key: str | None = field(default=None, repr=False)  # never in a repr, a log line or an error


class ChatProvider(ABC):
    """Chat completion with streaming: yields text deltas as they arrive, then at most
    one ChatUsage when the vendor reports tokens."""

    name: ClassVar[str]

    def unavailable_reason(self) -> str | None:
        return None

    @abstractmethod
    def stream_chat(self, *, model: str, messages: Sequence[ChatMessage],
                    params: Mapping[str, Any] | None = None) -> AsyncIterator[str | ChatUsage]:
        ...

    async def list_models(self) -> list[UpstreamModel]:
        """The models the server offers (discovery, and the connection test)."""
        raise ProviderError(f"{self.name}: this provider cannot list its models")

    async def aclose(self) -> None:
        ...


@dataclass(frozen=True)
class AudioClip:
    """Recorded speech to transcribe, whole (uploads are capped by max_upload_bytes). The
    file name's extension names the format: Whisper-style APIs read it from there."""

    data: bytes = field(repr=False)
    filename: str        # e.g. audio.webm
    content_type: str    # e.g. audio/webm


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text, a capability some connection adapters have besides chat (the
    OpenAI-compatible one: POST /audio/transcriptions). A protocol rather than a base
    class: an adapter gains the capability by having the method, and
    `isinstance(adapter, Transcriber)` tells whether a connection can transcribe. It
    returns the text as the vendor gave it; failures are ProviderError, as everywhere."""

    async def transcribe(self, *, model: str, audio: AudioClip, language: str | None = None,
                         prompt: str | None = None, temperature: float | None = None) -> str:
        """The words spoken in `audio`, by the vendor's `model` (its upstream name).
        `language` is an ISO 639-1 hint, `prompt` earlier text or spellings to follow."""
        ...
