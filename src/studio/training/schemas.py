"""Training API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from studio.http.schemas import RequestBody


class Hyperparameters(RequestBody):
    """How a LoRA is trained. Every field has a default; a run records the values it used."""
    steps: int = Field(500, ge=1, le=20_000, description="optimizer steps")
    rank: int = Field(8, ge=1, le=128, description="the LoRA's rank: larger learns more, and is bigger")
    learning_rate: float = Field(1e-4, gt=0, le=1e-2)
    resolution: int = Field(512, ge=64, le=1024, multiple_of=8, description="images are scaled and cropped "
                                                                           "to this square, in pixels")
    batch_size: int = Field(1, ge=1, le=16)
    trigger_word: str | None = Field(None, min_length=1, max_length=50, pattern=r"^\S+$",
                                     description="a word put before every caption (e.g. sks): use it in "
                                                 "prompts to call up what the model learned")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="the same seed repeats a run (default: random)")
    checkpoint_every: int = Field(100, ge=1, le=20_000, description="steps between checkpoints: a run "
                                                                   "interrupted resumes from the last one")
    sample_every: int = Field(100, ge=0, le=20_000, description="steps between sample images (and one at the "
                                                                "end); 0: none")
    sample_prompt: str | None = Field(None, min_length=1, max_length=500,
                                      description="what the samples show (default: the first image's caption "
                                                  "with the trigger word)")
    sample_steps: int = Field(20, ge=1, le=100, description="denoising steps of each sample image")


class TrainingCreate(RequestBody):
    dataset_id: UUID
    base_model_id: UUID = Field(description="a local diffusers image model (trained on the worker), or an image "
                                            "model with a hosted trainer (trained at its provider)")
    name: str | None = Field(None, min_length=1, max_length=200, description="the trained model's name "
                                                                             "(default: the dataset's)")
    hyperparams: Hyperparameters = Field(default_factory=Hyperparameters)


Status = Literal["queued", "preparing", "training", "succeeded", "failed", "canceled"]


class Sample(BaseModel):
    step: int
    media_id: UUID
    url: str


class TrainingRun(BaseModel):
    id: UUID
    name: str | None
    dataset_id: UUID | None = Field(description="null once the dataset was deleted")
    base_model_id: UUID | None
    status: Status
    progress: float = Field(description="percent")
    current_step: int
    total_steps: int
    loss_history: list[float] = Field(description="the loss of every step so far, in order")
    hyperparams: dict[str, Any]
    checkpoint_step: int = Field(description="the step an interrupted run resumes from")
    provider_job_id: str | None = Field(description="trained at its base model's provider: the training there "
                                                    "(its steps are reported, its losses are not)")
    samples: list[Sample] = Field(description="images of the sample prompt as training went on, by step")
    eta_seconds: float | None = Field(description="while training: the time left at the pace so far")
    error: str | None
    trained_model_id: UUID | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TrainingRunPage(BaseModel):
    items: list[TrainingRun]
    next_cursor: str | None


class TrainedModel(BaseModel):
    id: UUID
    name: str
    training_job_id: UUID | None
    base_model_id: UUID | None
    weights_media_id: UUID | None = Field(description="the LoRA's weights (safetensors; as the provider gave "
                                                      "them for a hosted run): GET /v1/media/{id}")
    provider_weights: str | None = Field(description="trained at a provider: the LoRA there (owner/name:version), "
                                                     "which generations with this model use")
    weights_bytes: int | None
    metrics: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TrainedModelPage(BaseModel):
    items: list[TrainedModel]
    next_cursor: str | None


class TrainedModelUpdate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
