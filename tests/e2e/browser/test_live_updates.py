"""Live updates over /v1/events: the gallery shows a new generation and its progress to
the end without a reload, and a generation that finishes while the user is on another
page shows as a toast that links to it."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import api_call, check_page, settled, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres,
              pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
                                 reason="needs espeak-ng and ffmpeg")]

WAIT_MS = 120_000  # a queued job on a busy machine


def _start(page: Any, slug: str, prompt: str, params: dict[str, Any] | None = None) -> str:
    """A generation started through the API as the page's user, not through the page."""
    status, models = api_call(page, "GET", "/v1/models")
    assert status == 200, models
    model = next(m for m in models["items"] if m["slug"] == slug)
    status, made = api_call(page, "POST", "/v1/generations",
                            {"type": model["type"], "model_id": model["id"], "prompt": prompt, "params": params or {}})
    assert status == 202, made
    return str(made["id"])


def test_the_gallery_follows_new_generations_without_a_reload(page: Any) -> None:
    sign_up(page, "Live Viewer")
    page.goto("/gallery")
    settled(page)
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads

    _start(page, "espeak-en", "Spoken while the gallery is open")
    card = page.get_by_role("link", name=re.compile("Spoken while the gallery is open"))
    expect(card).to_be_visible(timeout=WAIT_MS)
    expect(card.locator(".badge")).to_have_text("succeeded", timeout=WAIT_MS)
    assert page.evaluate("() => window.__sameDocument === true")
    watch_of(page).assert_clean()


def test_a_generation_finishing_elsewhere_shows_as_a_toast(page: Any) -> None:
    sign_up(page, "Toast Reader")
    page.goto("/chat")
    settled(page)
    generation = _start(page, "ffmpeg-video", "A short video made in the background",
                        {"duration_seconds": 2, "width": 320, "height": 240})
    toast = page.get_by_role("status").get_by_role("link", name="A generation is ready.")
    expect(toast).to_be_visible(timeout=WAIT_MS)
    toast.click()
    page.wait_for_url(f"**/gallery/{generation}")
    expect(page.locator("video")).to_be_visible()
    watch_of(page).assert_clean()


def test_the_bell_counts_what_finished_and_marks_it_read(page: Any) -> None:
    """A generation that ends while the user is on another page reaches the bell over the
    live stream (no reload): the count, then the panel lists it and leads to it; marking
    all read clears the count, also after a reload."""
    sign_up(page, "Bell Reader")
    page.goto("/chat")
    settled(page)
    page.evaluate("() => { window.__sameDocument = true; }")
    bell = page.get_by_role("button", name=re.compile("^Notifications"))
    expect(bell).to_have_accessible_name("Notifications")

    generation = _start(page, "espeak-en", "Ring the bell when this is spoken")
    expect(bell).to_have_accessible_name("Notifications, 1 unread", timeout=WAIT_MS)
    assert page.evaluate("() => window.__sameDocument === true")

    bell.click()
    panel = page.get_by_role("region", name="Notifications")
    item = panel.get_by_role("button", name=re.compile("Audio ready.*Ring the bell when this is spoken"))
    expect(item).to_be_visible()
    check_page(page, "notifications-panel")
    panel.get_by_role("button", name="Mark all as read").click()
    expect(bell).to_have_accessible_name("Notifications")
    expect(panel.get_by_role("button", name="Mark all as read")).to_be_disabled()

    item.click()
    page.wait_for_url(f"**/gallery/{generation}")
    expect(panel).to_be_hidden()

    page.reload()
    settled(page)
    expect(page.get_by_role("button", name=re.compile("^Notifications"))).to_have_accessible_name("Notifications")
    status, listed = api_call(page, "GET", "/v1/notifications")
    assert status == 200 and listed["unread_count"] == 0 and len(listed["items"]) == 1, listed

    # On a phone the panel fits the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name=re.compile("^Notifications")).click()
    box = page.get_by_role("region", name="Notifications").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    check_page(page, "notifications-phone")


def test_generations_switched_off_on_the_account_page_ring_no_bell(page: Any) -> None:
    sign_up(page, "Quiet Reader")
    page.goto("/account")
    settled(page)
    box = page.get_by_role("checkbox", name=re.compile("^Generations"))
    expect(box).to_be_checked()
    box.uncheck()
    expect(page.get_by_role("status").get_by_text("Notification settings saved.")).to_be_visible()
    page.reload()
    settled(page)
    expect(page.get_by_role("checkbox", name=re.compile("^Generations"))).not_to_be_checked()
    check_page(page, "account-notifications")

    generation = _start(page, "espeak-en", "Nobody is told about this one")
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        status, body = api_call(page, "GET", f"/v1/generations/{generation}")
        assert status == 200, body
        if body["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    status, listed = api_call(page, "GET", "/v1/notifications")
    assert status == 200 and listed == {"items": [], "next_cursor": None, "unread_count": 0}, listed
    expect(page.get_by_role("button", name=re.compile("^Notifications"))).to_have_accessible_name("Notifications")
    watch_of(page).assert_clean()
