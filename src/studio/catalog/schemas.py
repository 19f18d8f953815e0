"""The admin API's shapes for connections and models. A connection's key goes in (create,
replace) and never comes out: responses carry only its last 4 characters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from studio.http.schemas import RequestBody

Kind = Literal["openai", "anthropic", "gemini", "ollama", "replicate", "elevenlabs", "comfyui"]
ModelType = Literal["chat", "image", "audio", "video"]
Capability = Literal["chat", "vision", "image", "image-to-image", "inpainting", "video", "image-to-video", "speech",
                     "transcription", "music"]
ConnectionName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,49}$")]
BaseUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2000)]
ApiKey = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[\x21-\x7e]+$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/-]{0,99}$")]
UpstreamName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Voice = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
VOICES_DESCRIPTION = ("speech models: the voices it offers (the `voice` parameter then takes only these, and "
                      "forms show them as a list); empty: any voice the provider knows")


class ConnectionCreate(RequestBody):
    kind: Kind
    name: ConnectionName | None = Field(None, description="unique; default: the kind (then kind-2, ...)")
    base_url: BaseUrl | None = Field(None, description="default: the vendor's public API (see GET .../kinds)")
    api_key: ApiKey | None = Field(None, description="stored encrypted; never returned, only its last 4 characters")
    enabled: bool = True


class ConnectionUpdate(RequestBody):
    name: ConnectionName | None = None
    base_url: BaseUrl | None = None
    api_key: ApiKey | None = Field(None, description="a new key replaces the stored one; null removes it, "
                                                      "leaving the field out keeps it")
    enabled: bool | None = None


class Connection(BaseModel):
    id: UUID
    name: str
    kind: Kind
    base_url: str
    api_key_last4: str | None = Field(description="the last 4 characters of the stored key; null: no key")
    enabled: bool
    model_count: int
    status: str | None = Field(description="null when this API process can use it; otherwise why not")
    created_at: datetime
    updated_at: datetime


class ConnectionList(BaseModel):
    items: list[Connection]


class KindInfo(BaseModel):
    kind: Kind
    label: str
    default_base_url: str
    api_key: Literal["required", "optional"]
    chat: bool
    media_types: list[str]
    lists_models: bool


class KindList(BaseModel):
    items: list[KindInfo]


class ConnectionTest(BaseModel):
    ok: bool | None = Field(description="null: this kind cannot be checked without running a generation")
    message: str
    models: int | None = Field(None, description="how many models the server offers, when it lists them")


class UpstreamModel(BaseModel):
    name: str = Field(description="the vendor's model name, as its API takes it")
    display_name: str | None
    capabilities: list[str]
    registered_types: list[ModelType] = Field(description="types already in the registry for it on this connection")


class UpstreamModelList(BaseModel):
    items: list[UpstreamModel]


class Suggestion(BaseModel):
    kind: Kind
    name: str
    base_url: str
    message: str


class SuggestionList(BaseModel):
    items: list[Suggestion]


class ModelImportItem(RequestBody):
    provider_model: UpstreamName
    type: ModelType = "chat"
    display_name: DisplayName | None = None
    capabilities: list[Capability] | None = Field(None, description="default: what the type implies")


class ModelImport(RequestBody):
    models: list[ModelImportItem] = Field(min_length=1, max_length=200)
    enabled: bool = True


TrainerInput = str | int | float | bool


class HostedTraining(RequestBody):
    """How a hosted image model (Replicate) trains LoRAs on users' datasets (docs/training.md)."""
    trainer: str = Field(pattern=r"^[\w.-]+/[\w.-]+:[0-9a-f]{64}$", max_length=300,
                         description="the trainer model and version, owner/name:version")
    destination: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", max_length=200,
                             description="a model of the connection's account that receives each trained "
                                         "version, owner/name")
    lora_field: str = Field("lora_weights", pattern=r"^\w{1,64}$",
                            description="this model's input that takes a trained LoRA (owner/name:version)")
    inputs: dict[Annotated[str, StringConstraints(pattern=r"^\w{1,64}$")], TrainerInput] = Field(
        default_factory=dict, max_length=50, description="inputs sent to the trainer with every run, before "
                                                         "the run's own hyperparameters")


class ModelCreate(RequestBody):
    connection_id: UUID | None = Field(None, description="required unless the provider is local (espeak, ffmpeg, diffusers)")
    provider: str | None = Field(None, description="default: the connection's kind")
    provider_model: UpstreamName
    type: ModelType
    slug: Slug | None = Field(None, description="default: <connection>/<upstream name>, made a valid slug")
    display_name: DisplayName | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    capabilities: list[Capability] | None = None
    default_params: dict[str, Any] = Field(default_factory=dict, description="sent with every request, "
                                           "under what the user sets (e.g. temperature, max_tokens)")
    cost_cents: int | None = Field(None, ge=0, le=100_000, description="what one generation costs, for the cost caps")
    input_cents_per_mtok: float | None = Field(None, ge=0, le=1_000_000,
                                               description="chat: cents per million prompt tokens")
    output_cents_per_mtok: float | None = Field(None, ge=0, le=1_000_000,
                                                description="chat: cents per million answer tokens")
    voices: list[Voice] | None = Field(None, max_length=500, description=VOICES_DESCRIPTION)
    training: HostedTraining | None = Field(None, description="a Replicate image model: users train LoRAs "
                                                              "for it with this trainer")
    enabled: bool = True


class ModelUpdate(RequestBody):
    use_for_titles: bool | None = Field(None, description="true: this chat model writes conversations' titles "
                                                          "after their first answer (and no other model does)")
    provider_model: UpstreamName | None = None
    slug: Slug | None = None
    display_name: DisplayName | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    capabilities: list[Capability] | None = None
    default_params: dict[str, Any] | None = None
    cost_cents: int | None = Field(None, ge=0, le=100_000)
    input_cents_per_mtok: float | None = Field(None, ge=0, le=1_000_000,
                                               description="chat: cents per million prompt tokens")
    output_cents_per_mtok: float | None = Field(None, ge=0, le=1_000_000,
                                                description="chat: cents per million answer tokens")
    voices: list[Voice] | None = Field(None, max_length=500, description=VOICES_DESCRIPTION)
    training: HostedTraining | None = Field(None, description="null: this model no longer trains LoRAs")
    enabled: bool | None = None


class AdminModel(BaseModel):
    id: UUID
    slug: str
    display_name: str
    type: ModelType
    provider: str
    provider_model: str
    description: str | None
    connection_id: UUID | None
    connection_name: str | None
    capabilities: list[str]
    default_params: dict[str, Any]
    cost_cents: int | None
    input_cents_per_mtok: float | None
    output_cents_per_mtok: float | None
    use_for_titles: bool = Field(description="this chat model writes conversations' titles (one model at most)")
    voices: list[str] = Field(description=VOICES_DESCRIPTION)
    training: HostedTraining | None = Field(description="how users train LoRAs for it at its provider")
    enabled: bool
    available: bool
    unavailable_reason: str | None
    created_at: datetime
    updated_at: datetime


class AdminModelList(BaseModel):
    items: list[AdminModel]


class ConnectionDeleted(BaseModel):
    deleted: bool
    models_removed: int
