"""Chat's rules: which model answers a conversation, whether it can run here, and
what it is shown (the system prompt and the branch that leads to the new message)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from studio.chat import repository as repo
from studio.auth.identity import Credential, RequestContext
from studio.db.scopes import ApiDatabase, UserScope
from studio.http.errors import ApiError, not_found
from studio.jobs import repository as jobs
from studio.media import repository as media_repo
from studio.providers.base import ChatImage, ChatMessage, ChatProvider, ChatUsage
from studio.providers.registry import SETUP_HINT, Providers
from studio.storage.base import Storage
from studio.usage import repository as usage_repo

# How much of the first question and answer the title model reads.
TITLE_CONTEXT = 2000
# What a vision model takes as an attached image.
VISION_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


@dataclass(frozen=True)
class Question:
    """A user's message stored, and what it takes to answer it."""

    message: dict[str, Any]
    provider: ChatProvider
    provider_model: str
    model_slug: str
    prompt: list[ChatMessage]  # the system prompt, then the branch ending in `message`
    params: dict[str, Any]     # the model's default parameters (temperature, max_tokens, ...)
    prices: dict[str, Any]     # the model's config: prices per million tokens, when set
    prompt_ids: tuple[UUID | None, ...] = ()  # the message each prompt entry is (None: the system prompt)
    images: dict[UUID, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)  # not read yet: with_images


async def ask(tx: UserScope, providers: Providers, *, conversation_id: UUID, content: str,
              model_id: UUID | None, parent_id: UUID | None, parent_given: bool,
              attachments: list[UUID] | None = None) -> Question:
    """Stores the user's message (and its images) once the model (the given one, else
    the conversation's) is a chat model that can run here, and takes images if any."""
    spec = await _conversation_model(tx, conversation_id=conversation_id, model_id=model_id)
    provider = _usable_provider(providers, spec)
    if attachments and "vision" not in (spec["capabilities"] or []):
        raise ApiError(422, "validation_error", f"attachments: the model {spec['slug']} does not take images "
                                                "(no vision capability); choose one that does")
    question = await add_message(tx, conversation_id=conversation_id, role="user", content=content, model=None,
                                 parent_id=parent_id, parent_given=parent_given, attachments=attachments or [])
    history = await repo.list_messages(tx, conversation_id=conversation_id, leaf_id=question["id"]) or []
    return await _question(tx, spec, provider, question, history)


async def ask_many(tx: UserScope, providers: Providers, *, conversation_id: UUID, content: str,
                   model_ids: list[UUID], parent_id: UUID | None, parent_given: bool,
                   attachments: list[UUID] | None = None) -> list[Question]:
    """Compare: the user's message once, to be answered by each of 2-4 distinct chat
    models (every one checked as `ask` checks one) as sibling answers."""
    if not 2 <= len(model_ids) <= 4 or len(set(model_ids)) != len(model_ids):
        raise ApiError(422, "validation_error", "compare_model_ids: 2 to 4 different chat models")
    specs = [await _conversation_model(tx, conversation_id=conversation_id, model_id=m) for m in model_ids]
    chosen = [(spec, _usable_provider(providers, spec)) for spec in specs]
    if attachments:
        blind = [spec["slug"] for spec in specs if "vision" not in (spec["capabilities"] or [])]
        if blind:
            raise ApiError(422, "validation_error", f"attachments: {', '.join(blind)} do(es) not take images "
                                                    "(no vision capability)")
    question = await add_message(tx, conversation_id=conversation_id, role="user", content=content, model=None,
                                 parent_id=parent_id, parent_given=parent_given, attachments=attachments or [])
    history = await repo.list_messages(tx, conversation_id=conversation_id, leaf_id=question["id"]) or []
    return [await _question(tx, spec, provider, dict(question), history) for spec, provider in chosen]


async def post_message(db: ApiDatabase, cred: Credential, ctx: RequestContext, *, conversation_id: UUID,
                       role: str, content: str, model: str | None, parent_id: UUID | None, parent_given: bool,
                       attachments: list[UUID]) -> dict[str, Any]:
    """A message, in a transaction of its own. Without attachments it is one statement,
    sent with the scope's opening in one round trip (the common case: a person typing)."""
    if attachments:
        async with db.as_user(cred, ctx) as tx:
            return await add_message(tx, conversation_id=conversation_id, role=role, content=content, model=model,
                                     parent_id=parent_id, parent_given=parent_given, attachments=attachments)
    rows = await db.run_as_user(cred, ctx, repo.new_message(
        conversation_id=conversation_id, role=role, content=content, model=model, parent_id=parent_id,
        parent_given=parent_given))
    if not rows:
        raise not_found("conversation")
    return {**rows[0], "attachments": []}


async def add_message(tx: UserScope, *, conversation_id: UUID, role: str, content: str, model: str | None,
                      parent_id: UUID | None, parent_given: bool, attachments: list[UUID]) -> dict[str, Any]:
    """A message and its attached images: each one of the caller's own image files (404
    otherwise, as anything of someone else's). 404 for a conversation not theirs."""
    media = []
    for index, media_id in enumerate(attachments):
        found = await media_repo.get_media(tx, media_id=media_id)
        if found is None:
            raise not_found(f"media {media_id}")
        if found["content_type"] not in VISION_TYPES:
            raise ApiError(422, "validation_error", f"attachments[{index}]: only images can be attached "
                                                    f"({', '.join(sorted(VISION_TYPES))}), not {found['content_type']}")
        media.append(found)
    row = await repo.add_message(tx, conversation_id=conversation_id, role=role, content=content, model=model,
                                 parent_id=parent_id, parent_given=parent_given)
    if row is None:
        raise not_found("conversation")
    if media:
        await repo.add_attachments(tx, message_id=row["id"], media_ids=[m["id"] for m in media])
    row["attachments"] = [attachment_ref(m) for m in media]
    return row


def attachment_ref(media: dict[str, Any]) -> dict[str, Any]:
    return {"id": media["id"], "content_type": media["content_type"], "url": f"/v1/media/{media['id']}"}


async def with_attachments(tx: UserScope, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages, each with the images attached to it (a list, often empty)."""
    found = await repo.attachments_of(tx, message_ids=[m["id"] for m in messages]) if messages else {}
    for message in messages:
        message["attachments"] = [attachment_ref(a) for a in found.get(message["id"], [])]
    return messages


async def answer_again(tx: UserScope, providers: Providers, *, conversation_id: UUID,
                       message_id: UUID, model_id: UUID | None) -> Question:
    """A stored user message, to be answered once more (regenerate): the new answer
    becomes another child of it, a sibling of its earlier answers, which stay. 404 for a
    conversation or message that is not the caller's, 422 for a message that is not a
    user's; then the same model checks as `ask`. Nothing is written here."""
    spec = await _conversation_model(tx, conversation_id=conversation_id, model_id=model_id)
    history = await repo.list_messages(tx, conversation_id=conversation_id, leaf_id=message_id)
    if not history:
        raise not_found("message")
    message = history[-1]
    if message["role"] != "user":
        raise ApiError(422, "validation_error",
                       f"only a user message can be answered; this message's role is {message['role']}")
    return await _question(tx, spec, _usable_provider(providers, spec), message, history)


async def _conversation_model(tx: UserScope, *, conversation_id: UUID, model_id: UUID | None) -> dict[str, Any]:
    spec = await repo.chat_model(tx, conversation_id=conversation_id, model_id=model_id)
    if spec is None:
        raise not_found("conversation")
    if model_id is not None and spec["model_id"] is None:
        raise not_found("model")  # not one the caller can see (RLS: disabled, or none such)
    return spec


def _usable_provider(providers: Providers, spec: dict[str, Any]) -> ChatProvider:
    """The provider of the chosen model, once it is an enabled chat model that can run here."""
    if spec["model_id"] is None or not spec["enabled"]:
        raise ApiError(422, "validation_error", "choose a chat model: model_id, or the conversation's model_id "
                                                f"(GET /v1/models lists them). {SETUP_HINT}")
    if spec["type"] != "chat":
        raise ApiError(422, "validation_error", f"model {spec['slug']} is not a chat model")
    provider = providers.chat(spec)
    reason = providers.unavailable_reason(spec)
    if reason or provider is None:
        raise ApiError(409, "model_unavailable", f"this model cannot run here: {reason}")
    return provider


async def _question(tx: UserScope, spec: dict[str, Any], provider: ChatProvider,
                    message: dict[str, Any], history: list[dict[str, Any]]) -> Question:
    """`history`: the branch from the root down to `message`, oldest first; its images
    go to the model with their messages (a model without vision is refused then)."""
    attached = await repo.attachments_of(tx, message_ids=[m["id"] for m in history])
    if attached and "vision" not in (spec["capabilities"] or []):
        raise ApiError(422, "validation_error", f"this branch has images and the model {spec['slug']} does not "
                                                "take images (no vision capability); choose one that does")
    message.setdefault("attachments", [attachment_ref(f) for f in attached.get(message["id"], [])])
    system = [ChatMessage("system", spec["system_prompt"])] if spec["system_prompt"] else []
    prompt = system + [ChatMessage(m["role"], m["content"]) for m in history]
    return Question(message, provider, spec["provider_model"], spec["slug"], prompt, spec["default_params"] or {},
                    spec["config"] or {}, prompt_ids=(None,) * len(system) + tuple(m["id"] for m in history),
                    images=attached)


async def with_images(storage: Storage, questions: list[Question]) -> list[Question]:
    """The questions with their branch's images read, called once the transaction that
    found them has ended: no storage read holds a database connection. Compared
    answers share one branch, so its images are read once."""
    files = questions[0].images if questions else {}
    if not files:
        return questions
    read: dict[UUID, tuple[ChatImage, ...]] = {}
    for message_id, attached in files.items():
        images = []
        for file in attached:
            data = b"".join([chunk async for chunk in storage.read(file["bucket"], file["key"])])
            images.append(ChatImage(file["content_type"], data))
        read[message_id] = tuple(images)
    return [dataclasses.replace(q, prompt=[dataclasses.replace(m, images=read.get(i, ())) if i is not None else m
                                           for m, i in zip(q.prompt, q.prompt_ids, strict=True)], images={})
            for q in questions]


async def record_answer(tx: UserScope, question: Question, *, conversation_id: UUID, parts: list[str],
                        usage: ChatUsage | None) -> dict[str, Any] | None:
    """The complete answer, as a child of the question (never a half-written one), and
    its usage with it (both or neither); None when the conversation was deleted meanwhile."""
    answer = await repo.add_message(tx, conversation_id=conversation_id, role="assistant",
                                    content="".join(parts)[:100_000] or " ", model=question.model_slug,
                                    parent_id=question.message["id"], parent_given=True)
    if answer is not None:
        answer["attachments"] = []
        if await repo.title_due(tx, conversation_id=conversation_id):
            # The exchange to title travels in the job: the worker reads no message.
            await jobs.enqueue(tx, kind="conversation_title", payload={
                "conversation_id": str(conversation_id), "question": question.message["content"][:TITLE_CONTEXT],
                "answer": answer["content"][:TITLE_CONTEXT]})
        tokens_in, tokens_out = (usage.input_tokens, usage.output_tokens) if usage else (None, None)
        await usage_repo.record_chat_usage(tx, message_id=answer["id"], provider=question.provider.name,
                                           model=question.provider_model, input_tokens=tokens_in,
                                           output_tokens=tokens_out,
                                           cost_cents=chat_cost_cents(question.prices, tokens_in, tokens_out))
    return answer


def chat_cost_cents(prices: dict[str, Any], input_tokens: int | None, output_tokens: int | None) -> int:
    """What an answer cost by the model's prices per million tokens (its config's
    input_cents_per_mtok and output_cents_per_mtok), rounded up to a whole cent: a
    price set is never rounded away to free."""
    cost = 0.0
    for key, tokens in (("input_cents_per_mtok", input_tokens), ("output_cents_per_mtok", output_tokens)):
        price = prices.get(key)
        if isinstance(price, int | float) and tokens:
            cost += price * tokens / 1_000_000
    return math.ceil(cost - 1e-9) if cost > 0 else 0
