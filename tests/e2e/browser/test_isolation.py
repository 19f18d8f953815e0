"""One user's conversations, generations and links are theirs alone: another user, and
the admin, see none of them in the pages nor in any answer the pages receive, and
opening their addresses shows not-found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import Studio, api_call, log_in, make_generation, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]

NOT_FOUND = ((404, r"/v1/conversations/[0-9a-f-]+(/messages)?"), (404, r"/v1/generations/[0-9a-f-]+"))


def _record_json(page: Any) -> list[Any]:
    """Every /v1 JSON answer the page receives (bodies read at the end)."""
    answers: list[Any] = []

    def note(response: Any) -> None:
        if "/v1/" in response.url and "json" in (response.headers.get("content-type") or ""):
            answers.append(response)

    page.on("response", note)
    return answers


def _bodies(answers: list[Any]) -> str:
    """The bodies (not the addresses: the test itself opens the first user's ids)."""
    texts = []
    for response in answers:
        try:
            texts.append(response.text())
        except PlaywrightError as exc:  # a body the browser dropped after a navigation
            texts.append(f"(unread: {exc.message.splitlines()[0]})")
    assert any(not t.startswith("(unread") for t in texts), texts
    return "\n".join(texts)


def test_another_user_and_the_admin_see_nothing_of_a_users_data(studio: Studio,
                                                                  contexts: Callable[..., Any]) -> None:
    first = contexts().new_page()
    sign_up(first, "Owner Person")
    status, conversation = api_call(first, "POST", "/v1/conversations", {"title": "Owner's secret plans"})
    assert status == 201, conversation
    status, message = api_call(first, "POST", f"/v1/conversations/{conversation['id']}/messages",
                               {"role": "user", "content": "the owner's secret message"})
    assert status == 201, message
    generation = make_generation(first, "espeak-en", "the owner's secret prompt")
    status, share = api_call(first, "POST", "/v1/shares", {"generation_id": generation["id"]})
    assert status == 201, share
    first.goto("/gallery")
    expect(first.get_by_text("the owner's secret prompt")).to_be_visible()  # the owner sees it
    secrets = {"conversation id": conversation["id"], "title": "secret plans", "message": "secret message",
               "message id": message["id"], "generation id": generation["id"], "prompt": "secret prompt",
               "share id": share["id"], "share slug": share["slug"]}

    second = contexts().new_page()
    answers = _record_json(second)
    sign_up(second, "Other Person")
    _sees_nothing(second, conversation["id"], generation["id"])
    found = _bodies(answers)
    assert not [what for what, value in secrets.items() if value in found], found[:2000]
    watch_of(second).assert_clean(expected=NOT_FOUND)

    admin = contexts().new_page()
    answers = _record_json(admin)
    log_in(admin, studio.ensure_admin())
    _sees_nothing(admin, conversation["id"], generation["id"])
    admin.goto("/ops")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Ops")
    expect(admin.locator('[aria-busy="true"]')).to_have_count(0)
    found = _bodies(answers)
    assert not [what for what, value in secrets.items() if value in found], found[:2000]
    watch_of(admin).assert_clean(expected=NOT_FOUND)


def _sees_nothing(page: Any, conversation_id: str, generation_id: str) -> None:
    page.goto("/chat")
    sidebar = page.get_by_role("navigation", name="Conversations")
    expect(sidebar.get_by_role("link", name="New chat")).to_be_visible()
    expect(page.get_by_label("Model", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="Owner's secret plans")).to_have_count(0)
    expect(sidebar.get_by_role("listitem")).to_have_count(0)

    page.goto("/gallery")
    expect(page.get_by_role("heading", level=1)).to_have_text("Gallery")
    expect(page.get_by_role("list", name="Generations")).to_have_count(0)  # the empty state instead
    expect(page.get_by_text("the owner's secret prompt")).to_have_count(0)

    page.goto(f"/gallery/{generation_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_role("region", name="Sharing")).to_have_count(0)

    page.goto(f"/chat/{conversation_id}")
    expect(page.get_by_role("heading", name="Conversation not found")).to_be_visible()
    expect(page.get_by_text("the owner's secret message")).to_have_count(0)

    status, shares = api_call(page, "GET", "/v1/shares")
    assert status == 200 and shares["items"] == [], shares
