"""The OpenAI API's request shapes, as far as Studio serves them. Fields a client may send
that change nothing here (user, seed, logprobs, ...) are ignored, as OpenAI-compatible
servers do; fields whose meaning Studio cannot honour (tools, n > 1 for chat) are a
clear 400, never silently dropped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageUrl(Lenient):
    url: str = Field(max_length=30_000_000)
    detail: str | None = None


class ContentPart(Lenient):
    type: str
    text: str | None = Field(None, max_length=100_000)
    image_url: ImageUrl | None = None


class ChatMessageIn(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class StreamOptions(Lenient):
    include_usage: bool = False


class ChatCompletionRequest(Lenient):
    model: str = Field(min_length=1, max_length=100, description="a Studio model slug (GET /openai/v1/models)")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stop: str | list[str] | None = None
    n: int | None = Field(None, ge=1, le=1, description="one choice per request")
    tools: list[Any] | None = None


class ImageRequest(Lenient):
    model: str = Field(min_length=1, max_length=100)
    prompt: str = Field(min_length=1, max_length=4000)
    n: int = Field(1, ge=1, le=4)
    size: str | None = None
    quality: str | None = None
    response_format: Literal["b64_json", "url"] | None = None


class SpeechRequest(Lenient):
    model: str = Field(min_length=1, max_length=100)
    input: str = Field(min_length=1, max_length=4096)
    voice: str | Any | None = None
    response_format: Literal["mp3", "wav", "opus", "aac", "flac", "pcm"] | None = None
    speed: float | None = Field(None, ge=0.25, le=4.0)


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]
