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
from typing import Any, ClassVar, Literal, Protocol
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
    inputs: Sequence[Path] = ()                  # local copies of input media (e.g. images for a video)


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

    async def aclose(self) -> None:
        """Release clients (HTTP connection pools)."""


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class ChatProvider(ABC):
    """Chat completion with streaming: yields text deltas as they arrive."""

    name: ClassVar[str]

    def unavailable_reason(self) -> str | None:
        return None

    @abstractmethod
    def stream_chat(self, *, model: str, messages: Sequence[ChatMessage],
                    params: Mapping[str, Any] | None = None) -> AsyncIterator[str]:
        ...

    async def aclose(self) -> None:
        ...
