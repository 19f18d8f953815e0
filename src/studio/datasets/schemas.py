"""Datasets API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from studio.http.schemas import RequestBody

Caption = str


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value.strip() if value is not None else None


class DatasetCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)

    _name = field_validator("name")(_not_blank)


class DatasetUpdate(RequestBody):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)

    _name = field_validator("name")(_not_blank)


class Dataset(BaseModel):
    id: UUID
    name: str
    description: str | None
    status: Literal["draft", "ready", "in_use", "archived"] = Field(
        description="in_use while a training run reads it")
    image_count: int
    total_bytes: int = Field(description="the images' files, together")
    created_at: datetime
    updated_at: datetime


class DatasetPage(BaseModel):
    items: list[Dataset]
    next_cursor: str | None


class DatasetImage(BaseModel):
    id: UUID
    media_id: UUID = Field(description="the file: GET /v1/media/{media_id}")
    url: str
    caption: str | None
    width: int | None
    height: int | None
    size_bytes: int
    content_type: str
    checksum_sha256: str | None
    created_at: datetime


class ImageUploaded(DatasetImage):
    duplicate: bool = Field(description="true: the dataset already had this very file, and this is that image "
                                        "(nothing new was stored)")


class DatasetImagePage(BaseModel):
    items: list[DatasetImage]
    next_cursor: str | None


class CaptionUpdate(RequestBody):
    caption: str | None = Field(max_length=2000, description="null or empty: no caption")


class CaptionItem(RequestBody):
    image_id: UUID
    caption: str | None = Field(max_length=2000)


class CaptionsUpdate(RequestBody):
    """Several captions at once, all or nothing: an image id that is not in the dataset
    fails the whole request (404) and changes nothing."""
    items: list[CaptionItem] = Field(min_length=1, max_length=2000)

    @field_validator("items")
    @classmethod
    def _distinct(cls, items: list[CaptionItem]) -> list[CaptionItem]:
        if len({item.image_id for item in items}) != len(items):
            raise ValueError("each image may appear once")
        return items


class CaptionsUpdated(BaseModel):
    updated: int
