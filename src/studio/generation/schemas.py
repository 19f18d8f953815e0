"""Generation API shapes. Provider parameters are whitelisted per provider (K4): a
parameter a provider does not know is a 422, not something forwarded blindly."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from studio.http.schemas import RequestBody

PROMPT_MAX = 4000


class EspeakParams(RequestBody):
    voice: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[a-z0-9]+)*$", max_length=32,
                              description="an eSpeak NG voice such as en or en-us (default: the model's)")
    speed: int | None = Field(None, ge=80, le=450, description="words per minute (default 175)")
    pitch: int | None = Field(None, ge=0, le=99, description="voice pitch (default 50)")
    format: Literal["wav", "ogg"] | None = Field(None, description="the audio file's format (default wav)")


class FfmpegParams(RequestBody):
    duration_seconds: float | None = Field(None, ge=0.5, le=600, description="the video's length in seconds")
    width: int | None = Field(None, ge=64, le=1920, multiple_of=2, description="in pixels, even (default 640)")
    height: int | None = Field(None, ge=64, le=1920, multiple_of=2, description="in pixels, even (default 360)")
    fps: int | None = Field(None, ge=1, le=60, description="frames per second (default 25)")
    background: str | None = Field(None, pattern=r"^#?[0-9a-fA-F]{6}$|^[a-z]{3,20}$",
                                   description="a color: #rrggbb or a name such as navy (default #1e293b)")


class ImageParams(RequestBody):
    size: Literal["256x256", "512x512", "1024x1024", "1024x1536", "1536x1024"] | None = Field(
        None, description="width x height in pixels")
    quality: Literal["low", "medium", "high", "standard", "hd"] | None = Field(
        None, description="which values a model accepts depends on the model")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="the same seed repeats an image, where "
                                                                   "the model supports it")
    negative_prompt: str | None = Field(None, max_length=2000, description="what the image should not show")
    width: int | None = Field(None, ge=64, le=2048, multiple_of=8, description="in pixels, a multiple of 8")
    height: int | None = Field(None, ge=64, le=2048, multiple_of=8, description="in pixels, a multiple of 8")
    steps: int | None = Field(None, ge=1, le=150, description="sampling steps")
    guidance_scale: float | None = Field(None, ge=0, le=30, description="how closely the image follows the prompt "
                                                                        "(classifier-free guidance; often 3-8)")


class DiffusersParams(RequestBody):
    """The local diffusers provider's parameters (providers/diffusers_local.py)."""
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="the same seed repeats an image")
    negative_prompt: str | None = Field(None, max_length=2000, description="what the image should not show")
    width: int | None = Field(None, ge=64, le=2048, multiple_of=8, description="in pixels, a multiple of 8 "
                                                                             "(default 512, or the input image's)")
    height: int | None = Field(None, ge=64, le=2048, multiple_of=8, description="in pixels, a multiple of 8 "
                                                                              "(default 512, or the input image's)")
    steps: int | None = Field(None, ge=1, le=150, description="denoising steps (default 30)")
    guidance_scale: float | None = Field(None, ge=0, le=30, description="how closely the image follows the prompt "
                                                                        "(default 7.5)")
    strength: float | None = Field(None, gt=0, le=1, description="image-to-image: how much of the input image "
                                                                  "changes (default 0.75)")


class TrainedParams(DiffusersParams):
    """A model the user trained: its base model's parameters, and how strongly its LoRA applies."""
    lora_scale: float | None = Field(None, ge=0, le=2, description="how strongly what it learned applies: "
                                                                    "0 is the base model, 1 as trained (default)")


class HostedTrainedParams(ImageParams):
    """A model the user trained at a provider: its base model's parameters, and the LoRA's strength."""
    lora_scale: float | None = Field(None, ge=0, le=2, description="how strongly what it learned applies: "
                                                                    "0 is the base model, 1 as trained (default)")


# The parameters of the caller's trained models (GET /v1/models lists them among the others):
# trained on the worker, or at a provider.
TRAINED = "diffusers-lora"
HOSTED_TRAINED = "replicate-lora"


class SpeechParams(RequestBody):
    voice: str | None = Field(None, min_length=1, max_length=64,
                              description="the provider's voice name or id (default: the model's)")
    format: Literal["mp3", "wav", "opus", "aac", "flac"] | None = Field(
        None, description="the audio file's format (default mp3)")
    speed: float | None = Field(None, ge=0.25, le=4.0, description="speaking rate, 1 is normal")
    stability: float | None = Field(None, ge=0, le=1, description="voice stability (ElevenLabs)")
    similarity_boost: float | None = Field(None, ge=0, le=1, description="closeness to the voice (ElevenLabs)")


# The voices of OpenAI's speech endpoint, offered as examples: an OpenAI-compatible server
# may have others, so they are not the only values allowed (an admin's list is).
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")


def voices_of(config: dict[str, Any] | None) -> list[str]:
    """The voices an admin listed for a speech model (model_registry.config)."""
    voices = (config or {}).get("voices")
    return [v for v in voices if isinstance(v, str)] if isinstance(voices, list) else []


PARAMS_BY_PROVIDER: dict[tuple[str, str], type[RequestBody]] = {
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
    ("diffusers", "image"): DiffusersParams,
    (TRAINED, "image"): TrainedParams,
    (HOSTED_TRAINED, "image"): HostedTrainedParams,
}


class GenerationInput(RequestBody):
    media_id: UUID = Field(description="one of the caller's files: an upload or a result")
    role: Literal["image", "mask", "audio"] = Field(
        "image", description="image: image-to-image or image-to-video; mask: where an inpainting paints (white), "
                             "with exactly one image; audio: the soundtrack of an image-to-video")


class GenerationInputUsed(BaseModel):
    media_id: UUID
    role: Literal["image", "mask", "audio", "lora"]


class GenerationCreate(RequestBody):
    type: Literal["image", "audio", "video"]
    model_id: UUID
    prompt: str = Field(min_length=1, max_length=PROMPT_MAX)
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[GenerationInput] = Field(default_factory=list, max_length=8,
                                          description="media the generation starts from, in order; the model's "
                                                      "capabilities say which it takes (GET /v1/models)")


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
    inputs: list[GenerationInputUsed] | None = Field(
        None, description="the media it started from, in order: given when it is created and by "
                          "GET /v1/generations/{id}; null in lists (fetch the generation). A generation "
                          "with a trained model lists its LoRA weights as a `lora` input")
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
    capabilities: list[str] = Field(description="what it does: chat, vision, image, image-to-image, inpainting, "
                                                "video, image-to-video, speech, transcription, music")
    available: bool
    unavailable_reason: str | None
    base_model_id: UUID | None = Field(None, description="a model you trained: the model its LoRA applies to "
                                                         "(only you see it)")
    trainable: bool = Field(False, description="LoRAs can be trained for it (POST /v1/training-jobs): on the "
                                               "worker (local diffusers) or at its provider (a hosted trainer)")
    parameters: dict[str, Any] = Field(
        description="a JSON Schema (an object schema, self-contained) of the `params` that "
                    "POST /v1/generations accepts for this model: each property's type, enum, "
                    "minimum/maximum, multipleOf, minLength/maxLength, pattern and description; all are "
                    "optional (default null: the provider's default). Chat models take none: "
                    '{"type": "object", "properties": {}, "additionalProperties": false}',
        json_schema_extra={"example": {"type": "object", "additionalProperties": False, "properties": {
            "speed": {"type": "integer", "minimum": 80, "maximum": 450, "default": None,
                      "description": "words per minute (default 175)"}}}})


class ModelList(BaseModel):
    items: list[Model]
    setup_hint: str | None = Field(None, description="when no chat model can run here: what to configure, and where")
