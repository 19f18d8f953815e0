"""Sharing API shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from studio.http.schemas import RequestBody


class ShareCreate(RequestBody):
    generation_id: UUID | None = None
    conversation_id: UUID | None = None
    expires_at: datetime | None = Field(None, description="omit for a link that lasts until revoked")

    @model_validator(mode="after")
    def _one_target(self) -> ShareCreate:
        if (self.generation_id is None) == (self.conversation_id is None):
            raise ValueError("give exactly one of generation_id and conversation_id")
        if self.expires_at is not None:
            if self.expires_at.tzinfo is None:
                raise ValueError("expires_at needs a timezone, e.g. 2030-01-01T00:00:00Z")
            if self.expires_at <= datetime.now(UTC):
                raise ValueError("expires_at is in the past")
        return self


class Share(BaseModel):
    """A link of the caller's: `url` is the path under this server to open or hand out."""
    id: UUID
    slug: str
    url: str = Field(description="the link's path, /s/<slug>; prefix it with the server's origin to share it")
    generation_id: UUID | None
    conversation_id: UUID | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class SharePage(BaseModel):
    items: list[Share]
    next_cursor: str | None
