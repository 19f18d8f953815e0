"""What a transcription request carries: a multipart form (the audio file and a few text
fields, validated here once read) and the answer."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROMPT_MAX = 1000
FILE_DESCRIPTION = ("the recording: wav, mp3, ogg/opus, webm, m4a/mp4 or flac, at most STUDIO_MAX_UPLOAD_BYTES; "
                    "its content must match its declared type")


class _FormFields(BaseModel):
    """Text fields of a form: an empty field is an absent one (an HTML form sends
    every input, filled or not)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @field_validator("language", check_fields=False)
    @classmethod
    def _lower_case(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class TranscriptionFields(_FormFields):
    model_config = ConfigDict(extra="forbid")

    model_id: UUID | None = Field(None, description="a model with the 'transcription' capability "
                                                    "(GET /v1/models); default: the first one that can run")
    language: str | None = Field(None, pattern=r"^[A-Za-z]{2}$", description="what is spoken, ISO 639-1 "
                                                                           "(en, de, ...); default: detected")
    prompt: str | None = Field(None, max_length=PROMPT_MAX, description="earlier text, or spellings to follow")


class OpenAITranscriptionFields(_FormFields):
    """OpenAI's fields; others it defines (timestamp_granularities, include, ...) are
    ignored, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=100, description="a Studio model slug (GET /openai/v1/models)")
    language: str | None = Field(None, pattern=r"^[A-Za-z]{2}$")
    prompt: str | None = Field(None, max_length=PROMPT_MAX)
    response_format: Literal["json", "text", "verbose_json"] = "json"
    temperature: float | None = Field(None, ge=0, le=1)
    stream: bool | None = None


class Transcription(BaseModel):
    text: str = Field(description="what was said, as the vendor wrote it")
    model: str = Field(description="the slug of the model that transcribed it")


def multipart_request_body(fields: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a form with a `file` part and `fields`' text fields
    (the endpoints read the body themselves, as it streams)."""
    schema = fields.model_json_schema()
    properties = {"file": {"type": "string", "format": "binary", "description": FILE_DESCRIPTION},
                  **schema.get("properties", {})}
    properties.pop("stream", None)  # accepted only to refuse it clearly
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", *schema.get("required", [])], "properties": properties}}}}}
