"""Datasets in the browser: name one, drop several pictures in at once (each with its
progress; a text file refused by name, a picture chosen twice kept once), caption one,
start every caption with a trigger word, remove a picture, rename, delete. Everything the
page showed is checked against the API afterwards."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import DESKTOP, PHONE, api_call, check_page, no_sideways_scroll, screenshot, sign_up

pytestmark = [pytest.mark.slow, needs_postgres]


def _picture(color: tuple[int, int, int], fmt: str = "PNG", size: tuple[int, int] = (96, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def _file(name: str, data: bytes, mime: str) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


def test_a_dataset_is_filled_captioned_and_deleted_in_the_browser(page: Any):
    sign_up(page, "Dana Set")
    page.goto("/datasets")
    expect(page.get_by_role("heading", level=1)).to_have_text("Datasets")
    expect(page.get_by_text("No datasets yet")).to_be_visible()
    page.get_by_label("Name of the new dataset").fill("My cat")
    page.get_by_role("button", name="New dataset").click()
    page.wait_for_url("**/datasets/*")
    dataset_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text("My cat")

    red, green = _picture((220, 20, 20)), _picture((20, 200, 20), "JPEG")
    page.get_by_label("Choose pictures").set_input_files(files=[
        _file("red.png", red, "image/png"), _file("green.jpg", green, "image/jpeg"),
        _file("blue.webp", _picture((20, 20, 220), "WEBP"), "image/webp"),
        _file("notes.txt", b"not a picture", "text/plain"),
    ])
    uploads = page.get_by_role("list", name="Uploads")
    expect(uploads.get_by_text("notes.txt is not a PNG, JPEG or WebP image.")).to_be_visible()
    expect(uploads.get_by_text("added")).to_have_count(3)
    expect(page.get_by_test_id("dataset-summary")).to_contain_text("3 images")
    expect(page.get_by_text("1 of 4 could not be added; the list says why.")).to_be_visible()
    pictures = page.get_by_role("list", name="Pictures").get_by_role("listitem")
    expect(pictures).to_have_count(3)
    # Every thumbnail loads (the files come back from /v1/media).
    page.wait_for_function("() => [...document.querySelectorAll('ul[aria-label=Pictures] img')]"
                           ".every((img) => img.complete && img.naturalWidth === 96)")

    # The same picture again is kept once.
    page.get_by_label("Choose pictures").set_input_files(files=[_file("red-again.png", red, "image/png")])
    expect(uploads.get_by_text("already there")).to_be_visible()
    expect(pictures).to_have_count(3)
    expect(page.get_by_text("pictures added")).to_have_count(0)

    first_caption = page.get_by_label("Caption", exact=True).first
    first_caption.fill("sitting on a red sofa")
    first_caption.blur()
    page.get_by_label("Start every caption with").fill("a photo of sks cat")
    page.get_by_role("button", name="Apply to all").click()
    expect(page.get_by_text("Every caption now starts with those words.")).to_be_visible()
    check_page(page, "dataset")
    # On a phone: the grid goes to one or two columns, nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    expect(pictures.first).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "dataset-phone")
    page.set_viewport_size(DESKTOP)

    status, listed = api_call(page, "GET", f"/v1/datasets/{dataset_id}/images")
    assert status == 200
    captions = [image["caption"] for image in listed["items"]]
    assert sorted(captions) == ["a photo of sks cat", "a photo of sks cat", "a photo of sks cat, sitting on a red sofa"]
    assert [(i["width"], i["height"]) for i in listed["items"]] == [(96, 64)] * 3

    pictures.nth(1).get_by_role("button", name="Remove this picture").click()
    expect(pictures).to_have_count(2)
    expect(page.get_by_test_id("dataset-summary")).to_contain_text("2 images")

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Name").fill("Whiskers")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Whiskers")

    page.goto("/datasets")
    expect(page.get_by_role("link", name="Whiskers")).to_be_visible()
    check_page(page, "datasets")
    page.get_by_role("link", name="Whiskers").click()
    page.get_by_role("button", name="Delete dataset").click()
    page.get_by_role("button", name="Yes, delete").click()
    page.wait_for_url("**/datasets")
    expect(page.get_by_text("No datasets yet")).to_be_visible()
    assert api_call(page, "GET", f"/v1/datasets/{dataset_id}")[0] == 404
