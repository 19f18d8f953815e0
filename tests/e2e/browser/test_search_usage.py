"""Search and usage in the browser: a user chats in two conversations, finds the second
question by a word of it in the sidebar's search (the match marked in the snippet) and
opens it on its branch; the usage page counts both answers with the tokens the provider
reported, fits a phone, and passes axe. In the conversation already open, a hit switches
to the branch that holds the message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOpenAI, sse

from .harness import (
    CHAT_MODEL_NAME,
    CHAT_UPSTREAM,
    DESKTOP,
    PHONE,
    answer_events,
    check_page,
    no_sideways_scroll,
    settled,
    sign_up,
)

pytestmark = [pytest.mark.slow, needs_postgres]

# What the fake provider says each answer used (OpenAI's final usage-only chunk).
PROMPT_TOKENS = 21
COMPLETION_TOKENS = 8
FIRST_QUESTION = "What do cats like to eat?"
SECOND_QUESTION = "Which wombats dig the deepest burrows?"
SEARCHED = "wombats"


def _script_answer_with_usage(openai: FakeOpenAI, *pieces: str) -> str:
    """The next answers, streamed in `pieces`, followed by the usage chunk that OpenAI
    sends when asked for it (`stream_options.include_usage`): no choices, the counts."""
    usage = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
             "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                       "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}}
    events = answer_events(*pieces)
    openai.state["chat_events"] = [*events[:-1], *sse(usage), events[-1]]  # before [DONE]
    openai.state["chat_delay"] = 0.0
    return "".join(pieces)


def _ask(page: Any, openai: FakeOpenAI, question: str, *answer: str) -> None:
    text = _script_answer_with_usage(openai, *answer)
    page.get_by_label("Model", exact=True).select_option(label=CHAT_MODEL_NAME)
    page.get_by_label("Message", exact=True).fill(question)
    page.get_by_role("button", name="Send").click()
    expect(page.locator('article.message[data-role="assistant"]', has_text=text)).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    page.wait_for_url(re.compile(r".*/chat/[0-9a-f-]{36}.*"))


def test_search_finds_a_message_and_usage_counts_the_answers(contexts: Callable[..., Any],
                                                             openai: FakeOpenAI) -> None:
    page = contexts().new_page()
    sign_up(page, "Search Tester")

    # Before anything was used, the usage page says so.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    page.wait_for_url("**/usage")
    settled(page)
    expect(page.get_by_role("heading", name="Nothing used yet")).to_be_visible()

    # Two conversations, one question each.
    page.goto("/chat")
    _ask(page, openai, FIRST_QUESTION, "Fish, ", "mostly.")
    first_url = page.url.split("?")[0]
    sidebar = page.get_by_role("navigation", name="Conversations")
    sidebar.get_by_role("link", name="New chat").click()
    page.wait_for_url("**/chat")
    _ask(page, openai, SECOND_QUESTION, "The common ", "wombat, ", "some burrows run 30 metres.")
    second_url = page.url.split("?")[0]
    assert second_url != first_url

    # Back on the first one, search a word of the second question.
    sidebar.get_by_role("link", name=FIRST_QUESTION).click()
    page.wait_for_url(first_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(FIRST_QUESTION)
    search = sidebar.get_by_role("search")
    search.get_by_label("Filter conversations and search their messages").fill(SEARCHED)
    hits = sidebar.get_by_role("list", name=re.compile("Matches in messages"))
    expect(sidebar.get_by_role("status")).to_have_text(
        f"1 title and 1 match in messages for “{SEARCHED}”.")
    hit = hits.get_by_role("link")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text(SECOND_QUESTION)  # the conversation's title, then the snippet
    expect(hit.locator("mark")).to_have_text(SEARCHED)
    expect(hit.locator("mark")).to_have_count(1)
    check_page(page, "chat-search")

    # The hit opens the right conversation, on the branch of the message found.
    hit.click()
    page.wait_for_url(re.compile(re.escape(second_url) + r"\?leaf=[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(SECOND_QUESTION)
    question = page.get_by_role("article", name="You")
    expect(question).to_contain_text(SECOND_QUESTION)
    expect(question.get_by_text(SEARCHED)).to_be_in_viewport()
    expect(page.get_by_role("article", name="Assistant")).to_contain_text("some burrows run 30 metres.")

    # Escape clears the search: the list of chats again.
    search.get_by_role("searchbox").press("Escape")
    expect(search.get_by_role("searchbox")).to_have_value("")
    expect(hits).to_have_count(0)
    expect(sidebar.get_by_role("link", name=FIRST_QUESTION)).to_be_visible()

    # The usage page: both answers, with the tokens the provider reported.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    page.wait_for_url("**/usage")
    settled(page)
    totals = page.get_by_role("definition")
    expect(totals).to_have_text(["2", str(2 * PROMPT_TOKENS), str(2 * COMPLETION_TOKENS), re.compile(r"0[.,]00")])
    per_model = page.get_by_role("table", name="Per model")
    row = per_model.get_by_role("row", name=re.compile(CHAT_UPSTREAM))
    expect(row.get_by_role("rowheader")).to_contain_text(CHAT_UPSTREAM)
    expect(row.get_by_role("rowheader")).to_contain_text("Chat")
    expect(row.get_by_role("cell")).to_have_text(
        ["2", str(2 * PROMPT_TOKENS), str(2 * COMPLETION_TOKENS), re.compile(r"0[.,]00")])
    chart = page.get_by_role("img", name=re.compile(r"^Tokens per day"))
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_name(re.compile(str(2 * (PROMPT_TOKENS + COMPLETION_TOKENS))))

    # Another range is kept in the address and shows the same answers (both were today).
    page.get_by_label("Last 7 days").check()
    page.wait_for_url("**/usage?days=7")
    expect(row.get_by_role("cell").first).to_have_text("2")
    check_page(page, "usage")

    page.set_viewport_size(PHONE)
    expect(per_model).to_be_visible()
    no_sideways_scroll(page)
    check_page(page, "usage-phone")

    # In the conversation already open, a hit switches to the branch that holds it.
    page.set_viewport_size(DESKTOP)
    page.goto(second_url)
    question = page.get_by_role("article", name="You")
    expect(question).to_contain_text(SECOND_QUESTION)
    _script_answer_with_usage(openai, "Koalas sleep ", "up to 22 hours.")
    question.get_by_role("button", name="Edit").click()
    question.get_by_label("Edit message").fill("Which koalas sleep the longest?")
    question.get_by_role("button", name="Send").click()
    # While it streams, the old branch's answer shows above the new one: wait for the end.
    expect(page.locator('article.message[data-role="assistant"]', has_text="up to 22 hours.")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(page.get_by_role("article", name="Assistant")).to_contain_text("up to 22 hours.")
    expect(question.get_by_role("group", name="Versions")).to_contain_text("2/2")
    search.get_by_role("searchbox").fill(SEARCHED)
    expect(hits.get_by_role("link")).to_have_count(1)
    hits.get_by_role("link").click()
    page.wait_for_url(re.compile(re.escape(second_url) + r"\?leaf=[0-9a-f-]{36}$"))
    expect(question).to_contain_text(SECOND_QUESTION)
    expect(question.get_by_role("group", name="Versions")).to_contain_text("1/2")
    expect(page.get_by_role("article", name="Assistant")).to_contain_text("some burrows run 30 metres.")
