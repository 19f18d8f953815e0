"""Every page, signed out, as a user and as the admin: no console error, no uncaught
error, no request to any origin but Studio's, no serious or critical accessibility
violation (axe-core); each one's screenshot goes to docs/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOpenAI

from .harness import Studio, check_page, log_in, make_generation, script_answer, settled, sign_up

pytestmark = [pytest.mark.slow, needs_postgres]


def test_signed_out_pages(contexts: Callable[..., Any]) -> None:
    page = contexts().new_page()
    page.goto("/chat")  # not signed in: the login page, which will come back here
    page.wait_for_url("**/login?next=%2Fchat")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    check_page(page, "login")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    check_page(page, "signup")


def test_a_users_pages(contexts: Callable[..., Any], openai: FakeOpenAI) -> None:
    page = contexts().new_page()
    sign_up(page, "Page Visitor")
    settled(page)
    check_page(page, "chat-new")

    script_answer(openai, "Here is a small example:\n\n", "```python\nfor n in range(3):\n    print(n)\n```\n\n",
                  "It prints **0**, **1** and **2**.", delay=0.02)
    page.get_by_label("Model", exact=True).select_option(label="OpenAI-compatible chat")
    page.get_by_label("Message", exact=True).fill("Show me a loop in Python")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("article", name="Assistant")).to_contain_text("It prints 0, 1 and 2.")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    check_page(page, "chat-conversation")

    for kind in ("image", "audio", "video"):
        page.goto(f"/generate/{kind}")
        settled(page)
        expect(page.get_by_role("button", name="Generate")).to_be_visible()
        check_page(page, f"generate-{kind}")

    made = make_generation(page, "espeak-en", "A sentence spoken by eSpeak NG")
    page.goto("/gallery")
    settled(page)
    expect(page.get_by_role("list", name="Generations").get_by_role("link")).to_have_count(1)
    check_page(page, "gallery")

    page.get_by_role("list", name="Generations").get_by_role("link").click()
    page.wait_for_url(f"**/gallery/{made['id']}")
    settled(page)
    expect(page.locator("audio")).to_be_visible()
    check_page(page, "gallery-detail")

    page.goto("/account")
    settled(page)
    check_page(page, "account")


def test_the_admins_pages(studio: Studio, contexts: Callable[..., Any]) -> None:
    page = contexts().new_page()
    log_in(page, studio.ensure_admin())
    page.goto("/ops")
    settled(page)
    expect(page.get_by_role("heading", name="Readiness")).to_be_visible()
    check_page(page, "ops")


def test_the_api_docs(contexts: Callable[..., Any]) -> None:
    page = contexts().new_page()
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    check_page(page, "docs")
