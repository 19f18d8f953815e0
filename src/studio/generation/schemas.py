"""Generation API shapes. Provider parameters are whitelisted per provider (K4): a
parameter a provider does not know is a 422, not something forwarded blindly."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

PROMPT_MAX = 4000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EspeakParams(Strict):
    voice: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[a-z0-9]+)*$", max_length=32)
    speed: int | None = Field(None, ge=80, le=450)
    pitch: int | None = Field(None, ge=0, le=99)
    format: Literal["wav", "ogg"] | None = None


class FfmpegParams(Strict):
    duration_seconds: float | None = Field(None, ge=0.5, le=600)
    width: int | None = Field(None, ge=64, le=1920, multiple_of=2)
    height: int | None = Field(None, ge=64, le=1920, multiple_of=2)
    fps: int | None = Field(None, ge=1, le=60)
    background: str | None = Field(None, pattern=r"^#?[0-9a-fA-F]{6}$|^[a-z]{3,20}$")


class ImageParams(Strict):
    size: Literal["256x256", "512x512", "1024x1024", "1024x1536", "1536x1024"] | None = None
    quality: Literal["low", "medium", "high", "standard", "hd"] | None = None
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    negative_prompt: str | None = Field(None, max_length=2000)
    width: int | None = Field(None, ge=64, le=2048, multiple_of=8)
    height: int | None = Field(None, ge=64, le=2048, multiple_of=8)
    steps: int | None = Field(None, ge=1, le=150)


class SpeechParams(Strict):
    voice: str | None = Field(None, min_length=1, max_length=64)
    format: Literal["mp3", "wav", "opus", "aac", "flac"] | None = None
    speed: float | None = Field(None, ge=0.25, le=4.0)
    stability: float | None = Field(None, ge=0, le=1)
    similarity_boost: float | None = Field(None, ge=0, le=1)


PARAMS_BY_PROVIDER: dict[tuple[str, str], type[Strict]] = {
    ("espeak", "audio"): EspeakParams,
    ("ffmpeg", "video"): FfmpegParams,
    ("openai", "image"): ImageParams,
    ("openai", "audio"): SpeechParams,
    ("elevenlabs", "audio"): SpeechParams,
    ("replicate", "image"): ImageParams,
    ("replicate", "audio"): SpeechParams,
    ("replicate", "video"): FfmpegParams,
    ("comfyui", "image"): ImageParams,
    ("comfyui", "video"): ImageParams,
}


class GenerationCreate(Strict):
    type: Literal["image", "audio", "video"]
    model_id: UUID
    prompt: str = Field(min_length=1, max_length=PROMPT_MAX)
    params: dict[str, Any] = Field(default_factory=dict)


class MediaRef(BaseModel):
    id: UUID
    url: str
    size: int
    content_type: str


class GenerationResult(BaseModel):
    media: list[MediaRef]


class Generation(BaseModel):
    id: UUID
    type: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    model_id: UUID | None
    provider: str
    prompt: str
    params: dict[str, Any]
    progress: int
    error: str | None
    attempts: int
    result: GenerationResult | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class GenerationPage(BaseModel):
    items: list[Generation]
    next_cursor: str | None


class Model(BaseModel):
    id: UUID
    slug: str
    display_name: str
    type: str
    provider: str
    description: str | None
    available: bool
    unavailable_reason: str | None


class ModelList(BaseModel):
    items: list[Model]
