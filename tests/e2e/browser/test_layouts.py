"""Chat and gallery at phone width (390x844) and on a desktop (1280x800): their main
controls are on screen and nothing scrolls sideways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import DESKTOP, PHONE, log_in, make_generation, screenshot, settled, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]

OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def _fits(page: Any, where: str) -> None:
    scroll_width, inner_width = page.evaluate(OVERFLOW)
    assert scroll_width <= inner_width, f"{where}: {scroll_width}px wide in a {inner_width}px window"


def test_chat_and_gallery_fit_a_phone_and_a_desktop(contexts: Callable[..., Any]) -> None:
    account = None
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE).new_page()
        if account is None:
            account = sign_up(page, "Layout Tester")
            make_generation(page, "espeak-en", "A generation for the gallery grid")
        else:
            log_in(page, account)

        page.goto("/chat")
        expect(page.get_by_label("Message", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        expect(page.get_by_label("Model", exact=True)).to_be_visible()
        if viewport is PHONE:
            # The conversation list folds away behind a button, and comes back with it.
            expect(page.get_by_role("link", name="New chat")).to_be_hidden()
            page.get_by_role("button", name="Chats").click()
            expect(page.get_by_role("navigation", name="Conversations").get_by_role("link", name="New chat")).to_be_visible()
            _fits(page, f"chat, {name}, conversations open")
            page.get_by_role("button", name="Hide chats").click()
        else:
            expect(page.get_by_role("navigation", name="Conversations").get_by_role("link", name="New chat")).to_be_visible()
            expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        _fits(page, f"chat, {name}")
        screenshot(page, f"chat-{name}")

        page.goto("/gallery")
        settled(page)
        filters = page.get_by_role("form", name="Filters")
        expect(filters.get_by_label("Type")).to_be_visible()
        expect(filters.get_by_label("Status")).to_be_visible()
        expect(page.get_by_role("list", name="Generations").get_by_role("link")).to_have_count(1)
        _fits(page, f"gallery, {name}")
        screenshot(page, f"gallery-{name}")
        watch_of(page).assert_clean()
