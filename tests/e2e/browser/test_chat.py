"""Chat in the browser: a new user signs up, picks the model, sees the answer stream in
piece by piece, edits a message, regenerates an answer, switches between the branches,
and finds the same branch after a reload. Model output never runs as HTML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOpenAI

from .harness import check_page, script_answer, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]

MODEL = "OpenAI-compatible chat"
FIRST = ("The ", "first ", "answer ", "comes ", "in ", "eight ", "small ", "pieces.")
EDITED = ("An answer ", "to the edited ", "question.")
REGENERATED = ("A regenerated answer ", "with code:\n\n", "```python\nprint('hello')\n```\n")

# Watches the conversation while an answer streams: each time the page changes, the
# text of the last assistant message is written down.
RECORD_ANSWERS = """() => {
    window.__answers = [];
    const note = () => {
        const answers = document.querySelectorAll('article.message[data-role="assistant"]');
        const last = answers[answers.length - 1];
        if (last) window.__answers.push(last.textContent.replace(/\\s+/g, ' '));
    };
    window.__observer?.disconnect();
    window.__observer = new MutationObserver(note);
    window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _pieces_seen(snapshots: list[str], pieces: tuple[str, ...]) -> set[int]:
    """For each snapshot, how many of the answer's first pieces it showed (0..len)."""
    seen = set()
    for text in snapshots:
        shown = max((k for k in range(len(pieces) + 1)
                     if " ".join("".join(pieces[:k]).split()) in text), default=0)
        seen.add(shown)
    return seen


def _article(page: Any, who: str) -> Any:
    return page.get_by_role("article", name=who)


def _answered(page: Any, text: str) -> Any:
    """Once the answer containing `text` is complete: the one answer shown."""
    expect(page.locator('article.message[data-role="assistant"]', has_text=text)).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(_article(page, "Assistant")).to_have_count(1)
    expect(_article(page, "Assistant")).to_contain_text(text)
    return _article(page, "Assistant")


def _versions(article: Any) -> Any:
    return article.get_by_role("group", name="Versions")


def test_a_new_user_chats_with_streaming_branches_and_a_reload(page: Any, openai: FakeOpenAI) -> None:
    sign_up(page, "Chat Tester")
    expect(page.get_by_role("heading", level=1)).to_have_text("New chat")
    sidebar = page.get_by_role("navigation", name="Conversations")
    expect(sidebar.get_by_role("link", name="New chat")).to_be_visible()
    expect(sidebar.get_by_label("Filter conversations")).to_be_visible()
    picker = page.get_by_label("Model", exact=True)
    expect(picker.locator("option", has_text=MODEL)).to_be_enabled()
    picker.select_option(label=MODEL)

    # The answer streams in: the page shows it growing, piece by piece.
    full = script_answer(openai, *FIRST, delay=0.3)
    page.evaluate(RECORD_ANSWERS)
    page.get_by_label("Message", exact=True).fill("Tell me something, slowly")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    _answered(page, full)
    seen = _pieces_seen(page.evaluate("window.__answers"), FIRST)
    partial = {k for k in seen if 0 < k < len(FIRST)}
    assert len(partial) >= 2, f"the answer did not appear in pieces: it showed {sorted(seen)} of {len(FIRST)}"
    page.wait_for_url("**/chat/*")
    conversation_url = page.url.split("?")[0]
    expect(sidebar.get_by_role("link", name="Tell me something, slowly")).to_be_visible()

    # Edit the question and send it again: a second branch.
    edited = script_answer(openai, *EDITED, delay=0.05)
    question = _article(page, "You")
    question.get_by_role("button", name="Edit").click()
    question.get_by_label("Edit message").fill("An edited question")
    question.get_by_role("button", name="Send").click()
    _answered(page, edited)
    expect(_article(page, "You")).to_contain_text("An edited question")
    expect(_versions(_article(page, "You"))).to_contain_text("2/2")

    # Regenerate the answer to the edited question: a second answer to it, with code.
    regenerated = script_answer(openai, *REGENERATED, delay=0.05)
    _article(page, "Assistant").get_by_role("button", name="Regenerate").click()
    answer = _answered(page, "A regenerated answer with code:")
    expect(_versions(answer)).to_contain_text("2/2")
    expect(answer.locator("pre code")).to_have_text("print('hello')")
    expect(answer.get_by_role("button", name="Copy code")).to_be_visible()
    assert "```" not in answer.inner_text() and regenerated.startswith("A regenerated")

    # Switch between the branches: the counters and the text follow.
    _versions(_article(page, "You")).get_by_role("button", name="Previous version").click()
    expect(_versions(_article(page, "You"))).to_contain_text("1/2")
    expect(_article(page, "You")).to_contain_text("Tell me something, slowly")
    expect(_article(page, "Assistant")).to_contain_text(full)
    expect(_versions(_article(page, "Assistant"))).to_have_count(0)  # the first answer has no sibling

    _versions(_article(page, "You")).get_by_role("button", name="Next version").click()
    expect(_versions(_article(page, "You"))).to_contain_text("2/2")
    expect(_article(page, "You")).to_contain_text("An edited question")
    expect(_article(page, "Assistant")).to_contain_text("A regenerated answer")  # the newest leaf of that branch
    _versions(_article(page, "Assistant")).get_by_role("button", name="Previous version").click()
    expect(_versions(_article(page, "Assistant"))).to_contain_text("1/2")
    expect(_article(page, "Assistant")).to_contain_text(edited)

    # A reload shows the same conversation and the same branch.
    page.reload()
    assert page.url.split("?")[0] == conversation_url
    expect(page.get_by_role("heading", level=1)).to_have_text("Tell me something, slowly")
    expect(_article(page, "You")).to_contain_text("An edited question")
    expect(_versions(_article(page, "You"))).to_contain_text("2/2")
    expect(_article(page, "Assistant")).to_contain_text(edited)
    expect(_versions(_article(page, "Assistant"))).to_contain_text("1/2")
    expect(sidebar.get_by_role("link", name="Tell me something, slowly")).to_have_attribute("aria-current", "page")
    check_page(page, "chat")


def test_conversation_settings_rename_and_delete(page: Any, openai: FakeOpenAI) -> None:
    sign_up(page, "Settings Tester")
    script_answer(openai, "Noted.")
    page.get_by_label("Model", exact=True).select_option(label=MODEL)
    page.get_by_label("Message", exact=True).fill("Remember this")
    page.get_by_role("button", name="Send").click()
    _answered(page, "Noted.")

    page.get_by_role("button", name="Settings").click()
    page.get_by_label("System prompt").fill("Answer in one word.")
    page.get_by_label("Default model").select_option(label=MODEL)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("System prompt")).to_have_count(0)
    # The system prompt reaches the model with the next question.
    script_answer(openai, "Yes.")
    page.get_by_label("Message", exact=True).fill("Again?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator('article.message[data-role="assistant"]', has_text="Yes.")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    sent = openai.received("POST", "/v1/chat/completions")[-1].json()["messages"]
    assert sent[0] == {"role": "system", "content": "Answer in one word."}, sent

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Title").fill("Renamed in the browser")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed in the browser")
    sidebar = page.get_by_role("navigation", name="Conversations")
    expect(sidebar.get_by_role("link", name="Renamed in the browser")).to_be_visible()
    sidebar.get_by_label("Filter conversations").fill("no such title")
    expect(sidebar.get_by_role("link", name="Renamed in the browser")).to_have_count(0)
    sidebar.get_by_label("Filter conversations").fill("renamed")
    expect(sidebar.get_by_role("link", name="Renamed in the browser")).to_be_visible()

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/chat")
    expect(sidebar.get_by_role("link", name="Renamed in the browser")).to_have_count(0)
    watch_of(page).assert_clean()


def test_model_output_never_runs_as_html(page: Any, openai: FakeOpenAI) -> None:
    sign_up(page, "Xss Tester")
    script_answer(openai, 'Look: <img src=x onerror="window.__pwned=1"> and ',
                  "<script>window.__pwned=2</script> done.")
    page.get_by_label("Model", exact=True).select_option(label=MODEL)
    page.get_by_label("Message", exact=True).fill("Say something dangerous")
    page.get_by_role("button", name="Send").click()
    answer = _answered(page, "done.")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    # Stored and shown again from the API, too.
    page.reload()
    expect(_article(page, "Assistant")).to_contain_text("done.")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert answer.locator("script, [onerror], iframe, object").count() == 0
    watch_of(page).assert_clean()


def test_the_chat_page_says_when_the_conversation_is_not_there(contexts: Callable[..., Any]) -> None:
    page = contexts().new_page()
    sign_up(page, "Lost Tester")
    page.goto("/chat/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("heading", name="Conversation not found")).to_be_visible()
    watch_of(page).assert_clean(expected=((404, r"/v1/conversations/[0-9a-f-]+(/messages)?"),))
