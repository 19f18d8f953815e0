"""Chat API shapes. Limits match the database's CHECK constraints (F16)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from studio.http.schemas import RequestBody

TITLE_MAX = 200
SYSTEM_PROMPT_MAX = 10_000
CONTENT_MAX = 100_000
MODEL_MAX = 200


class ConversationCreate(RequestBody):
    title: str = Field("New conversation", min_length=1, max_length=TITLE_MAX)
    system_prompt: str | None = Field(None, max_length=SYSTEM_PROMPT_MAX)
    model_id: UUID | None = None
    title_auto: bool | None = Field(
        None, description="true: `title` is a placeholder (such as the first words of the question) that the title "
                          "model the admin chose replaces after the first answer; default: true exactly when no "
                          "title is given")


class ConversationUpdate(RequestBody):
    # Optional to send, never null: None only means "not given" (exclude_unset).
    title: str = Field(None, min_length=1, max_length=TITLE_MAX)  # type: ignore[assignment]
    system_prompt: str | None = Field(None, max_length=SYSTEM_PROMPT_MAX)
    model_id: UUID | None = None


class Conversation(BaseModel):
    id: UUID
    title: str
    title_auto: bool = Field(description="the title is still a placeholder a title model may replace (renaming "
                                         "the conversation ends that)")
    system_prompt: str | None
    model_id: UUID | None
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    items: list[Conversation]
    next_cursor: str | None


class SearchHit(BaseModel):
    id: UUID = Field(description="the message's id, or the conversation's for a title match")
    conversation_id: UUID
    conversation_title: str
    message_id: UUID | None = Field(description="null when the conversation's title matched")
    role: str | None
    snippet: str = Field(description="the matching text around the words found, each match between « and »")
    created_at: datetime


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None


class MessageCreate(RequestBody):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(min_length=1, max_length=CONTENT_MAX)
    parent_id: UUID | None = Field(
        None,
        description="the message this one answers or replaces a sibling of; omitted: the conversation's latest "
                    "message; null: a new root",
    )
    model: str | None = Field(None, min_length=1, max_length=MODEL_MAX)
    generate: bool = Field(False, description="answer with a model: the reply streams back as Server-Sent "
                                              "Events and is stored as a child of this message")
    model_id: UUID | None = Field(None, description="the chat model to answer with; default: the "
                                                    "conversation's model")
    compare_model_ids: list[UUID] = Field(
        default_factory=list, max_length=4,
        description="compare: 2 to 4 chat models answer at once, each answer a sibling child of this message, "
                    "streamed together (every event then names its `answer` index and `model`); instead of model_id")
    attachments: list[UUID] = Field(default_factory=list, max_length=8,
                                    description="ids of the caller's own images (uploads or results), sent "
                                                "with the message to models with vision")


class AnswerCreate(RequestBody):
    model_id: UUID | None = Field(None, description="the chat model to answer with; default (omitted, null, or no "
                                                    "body at all): the conversation's model")


class Attachment(BaseModel):
    id: UUID
    content_type: str
    url: str = Field(description="GET it with the same credentials")


class Message(BaseModel):
    id: UUID
    conversation_id: UUID
    parent_id: UUID | None
    role: str
    content: str
    model: str | None
    created_at: datetime
    attachments: list[Attachment] = Field(default_factory=list)


class MessageList(BaseModel):
    items: list[Message]
