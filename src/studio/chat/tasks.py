"""The chat's job kind: a conversation's title, written by the chat model admins chose
for titles ("use for titles" on the admin's Models page) after its first answer.

The job carries the first question and answer (the worker reads no message), asks the
title model for a few words, and renames the conversation only while its title is
automatic: a title the user set meanwhile wins (the policy allows nothing else)."""

from __future__ import annotations

import logging
import re
from uuid import UUID

from studio.chat import repository as repo
from studio.jobs.context import JobContext
from studio.jobs.registry import JobKind
from studio.providers.base import ChatMessage, ProviderError
from studio.providers.registry import Providers

log = logging.getLogger("studio.chat.titles")

INSTRUCTION = ("Write a title for this conversation: at most six words, in the language of the question, "
               "no quotes, no final punctuation. Answer with the title only.")
TITLE_MAX = 80


def clean_title(text: str) -> str | None:
    """The first line of the model's answer, without quotes, markup or a trailing stop."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    line = re.sub(r"^(title\s*:\s*)", "", line, flags=re.IGNORECASE)
    line = line.strip(" \t\"'“”‘’`*#").rstrip(".:;!")
    return line[:TITLE_MAX].rstrip() or None


class TitleJobs(JobKind):
    def __init__(self, providers: Providers) -> None:
        self.providers = providers

    async def run(self, job: JobContext) -> None:
        payload = job.job.payload
        conversation_id = UUID(str(payload["conversation_id"]))
        async with job.scope() as tx:
            model = await repo.title_model(tx)
        if model is None:  # the admin unset it meanwhile: nothing to do
            await job.complete()
            return
        adapter = self.providers.chat(model)
        if adapter is None:
            await job.fail(f"the title model cannot run here: {self.providers.unavailable_reason(model)}",
                           retryable=False)
            return
        exchange = f"Question:\n{payload.get('question', '')}\n\nAnswer:\n{payload.get('answer', '')}"
        parts: list[str] = []
        try:
            async for piece in adapter.stream_chat(model=model["provider_model"], params={
                    **(model["default_params"] or {}), "max_tokens": 32},
                    messages=[ChatMessage("system", INSTRUCTION), ChatMessage("user", exchange)]):
                if isinstance(piece, str):
                    parts.append(piece)
        except ProviderError as exc:
            await job.fail(str(exc), retryable=exc.retryable)
            return
        title = clean_title("".join(parts))
        if title is None:
            await job.fail("the title model answered nothing usable", retryable=False)
            return
        async with job.scope() as tx:
            if await job.hold_lease(tx):
                renamed = await repo.set_title(tx, conversation_id=conversation_id, title=title)
                await job.finish(tx)
        log.info("conversation %s %s", conversation_id, "titled" if renamed else "kept its title")
