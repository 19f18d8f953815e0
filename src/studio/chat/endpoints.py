"""Chat: conversations and their message trees."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from studio.chat import repository as repo
from studio.chat.schemas import (
    Conversation, ConversationCreate, ConversationPage, ConversationUpdate, Message, MessageCreate, MessageList,
)
from studio.deps import Cred, Ctx, Db
from studio.http import decode_cursor, json_response, not_found, page

router = APIRouter(prefix="/v1/conversations", tags=["chat"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("", status_code=201, response_model=Conversation)
async def create_conversation(body: ConversationCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await repo.create_conversation(tx, title=body.title, system_prompt=body.system_prompt,
                                             model_id=body.model_id)
    return json_response(row, 201)


@router.get("", response_model=ConversationPage)
async def list_conversations(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 20, cursor: str | None = None) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_conversations(tx, after=after, limit=limit)
    return json_response(page(rows, limit))


@router.get("/{conversation_id}", response_model=Conversation)
async def get_conversation(conversation_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await repo.get_conversation(tx, conversation_id=conversation_id)
    if row is None:
        raise not_found("conversation")
    return json_response(row)


@router.patch("/{conversation_id}", response_model=Conversation)
async def update_conversation(conversation_id: UUID, body: ConversationUpdate, db: Db, ctx: Ctx,
                              cred: Cred) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    async with db.as_user(cred, ctx) as tx:
        row = await repo.update_conversation(tx, conversation_id=conversation_id, changes=changes)
    if row is None:
        raise not_found("conversation")
    return json_response(row)


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        deleted = await repo.delete_conversation(tx, conversation_id=conversation_id)
    if not deleted:
        raise not_found("conversation")
    return Response(status_code=204)


@router.post("/{conversation_id}/messages", status_code=201, response_model=Message)
async def add_message(conversation_id: UUID, body: MessageCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await repo.add_message(tx, conversation_id=conversation_id, role=body.role, content=body.content,
                                     model=body.model, parent_id=body.parent_id,
                                     parent_given="parent_id" in body.model_fields_set)
    if row is None:
        raise not_found("conversation")
    return json_response(row, 201)


@router.get("/{conversation_id}/messages", response_model=MessageList)
async def list_messages(conversation_id: UUID, db: Db, ctx: Ctx, cred: Cred, leaf_id: UUID | None = None) -> Response:
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_messages(tx, conversation_id=conversation_id, leaf_id=leaf_id)
    if rows is None:
        raise not_found("conversation")
    if leaf_id is not None and not rows:
        raise not_found("message")
    return json_response({"items": rows})
