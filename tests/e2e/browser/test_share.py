"""Sharing a result: a link made on the gallery's detail page opens the item for anyone,
in a browser that never signed in; once revoked, the link shows a not-found page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import Studio, check_page, make_generation, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]


def test_share_a_result_open_it_anonymously_and_revoke_it(studio: Studio, contexts: Callable[..., Any]) -> None:
    owner = contexts(permissions=["clipboard-read", "clipboard-write"])
    page = owner.new_page()
    sign_up(page, "Share Owner")
    made = make_generation(page, "espeak-en", "Words worth sharing")

    page.goto(f"/gallery/{made['id']}")
    sharing = page.get_by_role("region", name="Sharing")
    expect(sharing.get_by_text("No links yet")).to_be_visible()
    sharing.get_by_role("button", name="Create link").click()
    links = sharing.get_by_role("list", name="Share links")
    expect(links.get_by_role("listitem")).to_have_count(1)
    link = links.get_by_role("textbox").input_value()
    assert link.startswith(f"{studio.url}/s/"), link
    links.get_by_role("button", name="Copy link").click()
    assert page.evaluate("navigator.clipboard.readText()") == link
    expect(page.locator("audio")).to_be_visible()
    check_page(page, "gallery-detail-shared")

    # Anyone with the link, signed in nowhere, sees the item and can play it.
    anonymous = contexts().new_page()
    opened = anonymous.goto(link)
    assert opened is not None and opened.status == 200
    expect(anonymous.get_by_role("heading", level=1)).to_have_text("Shared audio")
    expect(anonymous.get_by_text("Words worth sharing")).to_be_visible()
    duration = anonymous.locator("audio").evaluate("""(el) => new Promise((resolve) => {
        if (el.readyState >= 1) return resolve(el.duration);
        el.addEventListener('loadedmetadata', () => resolve(el.duration), {once: true});
        el.addEventListener('error', () => resolve(-1), {once: true});
    })""")
    assert duration > 0, duration
    check_page(anonymous, "share-page")

    # Revoked: gone from the list, and the link leads nowhere.
    links.get_by_role("button", name="Revoke").click()
    expect(sharing.get_by_text("No links yet")).to_be_visible()
    watch_of(page).assert_clean()
    gone = anonymous.goto(link)
    assert gone is not None and gone.status == 404
    expect(anonymous.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(anonymous.locator("audio")).to_have_count(0)
    assert "Words worth sharing" not in anonymous.content()
    watch_of(anonymous).assert_clean(expected=((404, r"/s/[^/]+"),))
