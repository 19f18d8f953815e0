"""Chat: conversations and their message trees."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import orjson
import psycopg
from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from studio.auth.identity import Credential, RequestContext
from studio.chat import repository as repo
from studio.chat import service
from studio.chat.schemas import (
    TITLE_MAX,
    AnswerCreate,
    Conversation,
    ConversationCreate,
    ConversationPage,
    ConversationUpdate,
    Message,
    MessageCreate,
    MessageList,
    SearchPage,
)
from studio.db.scopes import ApiDatabase
from studio.http.deps import Cred, Ctx, Db, ProvidersDep, StorageDep
from studio.http.errors import ApiError, not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.providers.base import ChatUsage, ProviderError
from studio.providers.registry import Providers
from studio.http.openapi import RATE_LIMITED
from studio.ratelimit import service as ratelimit
from studio.storage.base import Storage

log = logging.getLogger("studio.chat")

router = APIRouter(prefix="/v1/conversations", tags=["chat"])

Limit = Annotated[int, Query(ge=1, le=100)]
TitleQuery = Annotated[str | None, Query(
    max_length=TITLE_MAX, pattern=r"^[^\x00]*$",
    description="only conversations whose title contains this text, ignoring case (% and _ match "
                "themselves); pages and their cursors work the same")]

_ANSWER_STREAM = ("Server-Sent Events: `event: message` (the user message answered), then `event: delta` "
                  '`{"content": "..."}` as the answer arrives, then `event: done` (the stored answer, a Message; '
                  'null when the conversation was deleted meanwhile) or `event: error` `{"code", "message"}` '
                  "(nothing stored). With `compare_model_ids`, the same events for each model, interleaved, "
                  "each naming its `answer` index and `model`; each answer is stored when it is complete")


@router.post("", status_code=201, response_model=Conversation)
async def create_conversation(body: ConversationCreate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await repo.create_conversation(tx, title=body.title, system_prompt=body.system_prompt,
                                             model_id=body.model_id,
                                             title_auto=body.title_auto if body.title_auto is not None
                                             else "title" not in body.model_fields_set)
    return json_response(row, 201)


@router.get("", response_model=ConversationPage)
async def list_conversations(db: Db, ctx: Ctx, cred: Cred, limit: Limit = 20, cursor: str | None = None,
                             q: TitleQuery = None) -> Response:
    """The caller's conversations, newest first, in keyset pages (`next_cursor`); with
    `q`, only those whose title contains it (case-insensitive)."""
    read = repo.conversations_page(after=decode_cursor(cursor), limit=limit, title_contains=q)
    return json_response(page(await db.run_as_user(cred, ctx, read), limit))


@router.get("/search", response_model=SearchPage)
async def search(db: Db, ctx: Ctx, cred: Cred,
                 q: Annotated[str, Query(min_length=1, max_length=200, description=(
                     "words to find, in any order, in message texts and titles; \"a phrase\", -excluded, or"))],
                 limit: Limit = 20, cursor: str | None = None) -> Response:
    """Full-text search over the caller's conversations and messages (PostgreSQL, indexed),
    newest first, in keyset pages."""
    if not q.strip():
        raise ApiError(422, "validation_error", "q: give at least one word to search for")
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.search(tx, query=q, after=after, limit=limit)
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


@router.post("/{conversation_id}/messages", status_code=201, response_model=Message,
             responses={200: {"content": {"text/event-stream": {}}, "description": f"with generate: {_ANSWER_STREAM}"},
                        **RATE_LIMITED})
async def add_message(conversation_id: UUID, body: MessageCreate, request: Request, db: Db, ctx: Ctx,
                      cred: Cred, providers: ProvidersDep, storage: StorageDep) -> Response:
    if body.generate:
        return await _add_and_answer(conversation_id, body, request, db, ctx, cred, providers, storage)
    row = await service.post_message(db, cred, ctx, conversation_id=conversation_id, role=body.role,
                                     content=body.content, model=body.model, parent_id=body.parent_id,
                                     parent_given="parent_id" in body.model_fields_set, attachments=body.attachments)
    return json_response(row, 201)


async def _add_and_answer(conversation_id: UUID, body: MessageCreate, request: Request, db: ApiDatabase,
                          ctx: RequestContext, cred: Credential, providers: Providers, storage: Storage) -> Response:
    """Stores the user's message, then streams the model's answer as it arrives."""
    if body.role != "user":
        raise ApiError(422, "validation_error", "only a user message can be answered (generate: true)")
    if body.compare_model_ids:
        if body.model_id is not None:
            raise ApiError(422, "validation_error", "give model_id or compare_model_ids, not both")
        for _ in body.compare_model_ids:  # each answer is a chat request
            await ratelimit.check(request, ratelimit.CHAT, cred)
        async with db.as_user(cred, ctx) as tx:
            questions = await service.ask_many(tx, providers, conversation_id=conversation_id,
                                               content=body.content, model_ids=body.compare_model_ids,
                                               parent_id=body.parent_id,
                                               parent_given="parent_id" in body.model_fields_set,
                                               attachments=body.attachments)
        questions = await service.with_images(storage, questions)
        return _compare_stream(questions, conversation_id, db, ctx, cred)
    await ratelimit.check(request, ratelimit.CHAT, cred)
    async with db.as_user(cred, ctx) as tx:
        question = await service.ask(tx, providers, conversation_id=conversation_id, content=body.content,
                                     model_id=body.model_id, parent_id=body.parent_id,
                                     parent_given="parent_id" in body.model_fields_set,
                                     attachments=body.attachments)
    [question] = await service.with_images(storage, [question])
    return _answer_stream(question, conversation_id, db, ctx, cred)


@router.post("/{conversation_id}/messages/{message_id}/answers", status_code=200, response_class=StreamingResponse,
             summary="Regenerate an answer to a user message",
             responses={200: {"content": {"text/event-stream": {}}, "description": _ANSWER_STREAM},
                        404: {"description": "no such conversation or message of yours"},
                        409: {"description": "the model cannot run here"},
                        422: {"description": "the message is not a user message, or no chat model is chosen"},
                        429: {"description": "rate limited (the chat limit)"}})
async def answer_again(conversation_id: UUID, message_id: UUID, request: Request, db: Db, ctx: Ctx, cred: Cred,
                       providers: ProvidersDep, storage: StorageDep, body: AnswerCreate | None = None) -> Response:
    """Regenerate: a new answer to an existing user message, streamed exactly like
    `POST .../messages` with `generate: true`, and stored as another child of that
    message (a sibling of its earlier answers, which stay). The body is optional."""
    await ratelimit.check(request, ratelimit.CHAT, cred)
    async with db.as_user(cred, ctx) as tx:
        question = await service.answer_again(tx, providers, conversation_id=conversation_id,
                                              message_id=message_id,
                                              model_id=body.model_id if body is not None else None)
    [question] = await service.with_images(storage, [question])
    return _answer_stream(question, conversation_id, db, ctx, cred)


def _answer_stream(question: service.Question, conversation_id: UUID, db: ApiDatabase, ctx: RequestContext,
                   cred: Credential) -> Response:
    """Streams the model's answer to `question` as it arrives. The answer is stored, as
    a child of the question, only once it is complete: a client that goes away or a
    provider that fails midway leaves no half-written reply."""

    async def events() -> AsyncIterator[bytes]:
        yield _sse("message", question.message)
        parts: list[str] = []
        usage: ChatUsage | None = None
        try:
            async for piece in question.provider.stream_chat(model=question.provider_model,
                                                             messages=question.prompt, params=question.params):
                if isinstance(piece, ChatUsage):
                    usage = piece
                    continue
                parts.append(piece)
                yield _sse("delta", {"content": piece})
        except ProviderError as exc:
            yield _sse("error", {"code": "provider_error", "message": str(exc)})
            return
        try:
            async with db.as_user(cred, ctx) as tx:
                answer = await service.record_answer(tx, question, conversation_id=conversation_id, parts=parts,
                                                     usage=usage)
        except psycopg.OperationalError as exc:
            # The database went away (a restart, a failover) while the answer streamed: the
            # stream ends with an error event, as the contract says, not cut short (the
            # response has started, so no error handler can answer any more).
            log.warning("chat answer not stored: the database is unavailable (%s)", type(exc).__name__)
            yield _sse("error", {"code": "unavailable",
                                 "message": "the database is unavailable: the answer was not saved, retry shortly"})
            return
        yield _sse("done", answer)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _compare_stream(questions: list[service.Question], conversation_id: UUID, db: ApiDatabase,
                    ctx: RequestContext, cred: Credential) -> Response:
    """Several models answer one question at once, over one stream: their deltas
    interleave as they arrive, each event naming its `answer` (the index in
    compare_model_ids) and `model`. Each answer is stored, as a sibling child of the
    question, as soon as it is complete, whatever the others do."""
    Event = tuple[str, dict[str, Any]]

    async def answer(index: int, question: service.Question, queue: asyncio.Queue[Event]) -> None:
        tag = {"answer": index, "model": question.model_slug}
        parts: list[str] = []
        usage: ChatUsage | None = None
        try:
            async for piece in question.provider.stream_chat(model=question.provider_model,
                                                             messages=question.prompt, params=question.params):
                if isinstance(piece, ChatUsage):
                    usage = piece
                else:
                    parts.append(piece)
                    await queue.put(("delta", {"content": piece, **tag}))
            async with db.as_user(cred, ctx) as tx:
                stored = await service.record_answer(tx, question, conversation_id=conversation_id, parts=parts,
                                                     usage=usage)
            await queue.put(("done", {**(stored or {}), **tag}))
        except ProviderError as exc:
            await queue.put(("error", {"code": "provider_error", "message": str(exc), **tag}))
        except Exception:
            log.exception("compare answer %d failed", index)
            await queue.put(("error", {"code": "internal_error", "message": "this answer failed", **tag}))

    async def events() -> AsyncIterator[bytes]:
        yield _sse("message", questions[0].message)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        tasks = [asyncio.create_task(answer(i, q, queue)) for i, q in enumerate(questions)]
        try:
            running = len(tasks)
            while running:
                event, data = await queue.get()
                running -= event in ("done", "error")
                yield _sse(event, data)
        finally:  # the client went away: stop the answers still streaming
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get("/{conversation_id}/messages", response_model=MessageList)
async def list_messages(conversation_id: UUID, db: Db, ctx: Ctx, cred: Cred, leaf_id: UUID | None = None) -> Response:
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_messages(tx, conversation_id=conversation_id, leaf_id=leaf_id)
        if rows is not None:
            rows = await service.with_attachments(tx, rows)
    if rows is None:
        raise not_found("conversation")
    if leaf_id is not None and not rows:
        raise not_found("message")
    return json_response({"items": rows})
