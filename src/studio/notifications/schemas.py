"""Notifications API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from studio.http.schemas import RequestBody


Kind = Literal["generation", "training", "share", "quota", "system", "backup"]


class Notification(BaseModel):
    id: UUID
    kind: Kind
    title: str
    body: str | None
    data: dict[str, Any] = Field(description="what it is about, e.g. {\"generation_id\": ..., \"status\": ...}")
    read_at: datetime | None
    created_at: datetime


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
    unread_count: int = Field(description="all of the caller's unread notifications, not only this page's")


class MarkedRead(BaseModel):
    marked: int = Field(description="how many were unread until now")


class NotificationPreferences(RequestBody):
    """The kinds of notification the caller does not want; everything else is on."""
    muted: list[Kind] = Field(max_length=6, description="e.g. [\"generation\"]: no notification when a "
                                                        "generation ends")
