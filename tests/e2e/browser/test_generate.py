"""Generate in the browser with the local providers: speech with eSpeak NG, a video with
ffmpeg. The page shows progress while the worker runs, then a player whose media loads
and reports its duration; a running generation can be canceled. An inpainting model on
the fake OpenAI-compatible server gets the image chosen in the page and the mask painted
on it, as a PNG of the image's size."""

from __future__ import annotations

import base64
import io
import math
import re
import shutil
import struct
import wave
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOpenAI

from .harness import SEEDED_CONNECTION, Studio, api_call, check_page, sign_up, watch_of

_MISSING_TOOLS = [tool for tool in ("espeak-ng", "ffmpeg", "ffprobe") if shutil.which(tool) is None]

pytestmark = [pytest.mark.slow, needs_postgres]
needs_tools = pytest.mark.skipif(bool(_MISSING_TOOLS), reason=f"not installed: {', '.join(_MISSING_TOOLS)}")

MEDIA_TIMEOUT_MS = 120_000  # a queued job on a busy machine, then the encoding

# What the page showed while the generation ran: the status line's texts, whether a
# <progress> was there, and its values.
RECORD_PROGRESS = """() => {
    window.__progress = {texts: [], bars: 0, values: []};
    const note = () => {
        for (const status of document.querySelectorAll('[role="status"]')) {
            const text = status.textContent.trim();
            if (text && window.__progress.texts.at(-1) !== text) window.__progress.texts.push(text);
        }
        for (const bar of document.querySelectorAll('progress')) {
            window.__progress.bars += 1;
            if (bar.hasAttribute('value')) window.__progress.values.push(bar.value);
        }
    };
    window.__observer?.disconnect();
    window.__observer = new MutationObserver(note);
    window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""

# The element's duration once its metadata has loaded (-1 if it failed to load).
DURATION = """(el) => new Promise((resolve) => {
    if (el.readyState >= 1) return resolve(el.duration);
    el.addEventListener('loadedmetadata', () => resolve(el.duration), {once: true});
    el.addEventListener('error', () => resolve(-1), {once: true});
    el.load();
})"""

MODEL_ID = """async (slug) => {
    const response = await fetch('/v1/models');
    return (await response.json()).items.find((m) => m.slug === slug).id;
}"""


def _start(page: Any, kind: str, slug: str, prompt: str, params: dict[str, str] | None = None) -> None:
    page.goto(f"/generate/{kind}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Generate")
    page.get_by_label("Model", exact=True).select_option(page.evaluate(MODEL_ID, slug))
    page.get_by_label("Prompt").fill(prompt)
    for label, value in (params or {}).items():
        page.get_by_label(label).fill(value)
    page.evaluate(RECORD_PROGRESS)
    page.get_by_role("button", name="Generate").click()


def _duration(page: Any, selector: str) -> float:
    player = page.locator(selector)
    expect(player).to_be_visible(timeout=MEDIA_TIMEOUT_MS)
    return float(player.evaluate(DURATION))


@needs_tools
def test_speech_and_video_with_progress_and_players(page: Any) -> None:
    sign_up(page, "Media Maker")

    _start(page, "audio", "espeak-en", "Hello from the browser test")
    seconds = _duration(page, "audio")
    assert 0.5 < seconds < 30, seconds
    seen = page.evaluate("window.__progress")
    assert seen["bars"] > 0 and any(t.startswith(("Waiting", "Generating")) for t in seen["texts"]), seen
    expect(page.get_by_role("region", name="Result").get_by_role("status")).to_have_text("Done.")
    check_page(page, "generate-audio-result")

    # Long enough to encode for a few seconds: the page shows the percentage moving.
    _start(page, "video", "ffmpeg-video", "A video from the browser test",
           {"Duration seconds": "12", "Width": "1280", "Height": "720", "Fps": "30"})
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    seconds = _duration(page, "video")
    assert abs(seconds - 12) < 0.2, seconds
    seen = page.evaluate("window.__progress")
    percents = {int(m.group(1)) for t in seen["texts"] if (m := re.search(r"(\d+)%", t))}
    assert any(0 < p < 100 for p in percents) or any(0 < v < 100 for v in seen["values"]), seen
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    check_page(page, "generate-video-result")


@needs_tools
def test_an_image_and_a_soundtrack_make_a_video_as_long_as_the_sound(page: Any) -> None:
    sign_up(page, "Slideshow Maker")
    page.goto("/generate/video")
    page.get_by_label("Model", exact=True).select_option(page.evaluate(MODEL_ID, "ffmpeg-video"))
    page.get_by_label("Prompt").fill("A holiday picture with its sound")
    page.get_by_label("Image file").set_input_files(
        files=[{"name": "beach.png", "mimeType": "image/png", "buffer": _png(320, 240, (240, 200, 120))}])
    expect(page.get_by_text("beach.png · 320 × 240 pixels")).to_be_visible()
    soundtrack = page.get_by_label("Soundtrack file")
    soundtrack.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"la la"}])
    expect(page.get_by_role("alert")).to_contain_text("“notes.txt” is not an MP3, WAV or Ogg audio file")
    soundtrack.set_input_files(files=[{"name": "waves.wav", "mimeType": "audio/wav", "buffer": _wav(2.5)}])
    expect(page.get_by_label("Soundtrack: waves.wav")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    check_page(page, "generate-video-inputs")
    page.get_by_role("button", name="Generate").click()

    # Without a duration, the video lasts as long as its soundtrack.
    seconds = _duration(page, "section video")
    assert abs(seconds - 2.5) < 0.2, seconds
    generation_id = page.url.split("generation=")[1]
    status, generation = api_call(page, "GET", f"/v1/generations/{generation_id}")
    assert status == 200 and [i["role"] for i in generation["inputs"]] == ["image", "audio"], generation
    watch_of(page).assert_clean()


def _wav(seconds: float, rate: int = 8000) -> bytes:
    """A WAV of a quiet tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(2000 * math.sin(i / 8))) for i in range(int(rate * seconds))))
    return buffer.getvalue()


@needs_tools
def test_a_running_generation_can_be_canceled(page: Any) -> None:
    sign_up(page, "Media Canceler")
    _start(page, "video", "ffmpeg-video", "A video nobody waits for",
           {"Duration seconds": "300", "Width": "1920", "Height": "1080", "Fps": "60"})
    expect(page.get_by_role("region", name="Result").get_by_role("status")).to_contain_text("Generating", timeout=MEDIA_TIMEOUT_MS)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("This generation was canceled")).to_be_visible(timeout=MEDIA_TIMEOUT_MS)
    expect(page.locator("video")).to_have_count(0)
    expect(page.get_by_role("button", name="Run again")).to_be_visible()
    watch_of(page).assert_clean()


# --------------------------------------------------------------------------- inpainting

EDITOR = "openai-editor"
EDITOR_UPSTREAM = "editor-1"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _ensure_editor(studio: Studio) -> None:
    """An image model that edits and inpaints, on the seeded connection to the fake server."""
    with studio.admin_http() as client:
        listed = client.get("/v1/admin/models")
        assert listed.status_code == 200, listed.text
        if any(m["slug"] == EDITOR for m in listed.json()["items"]):
            return
        connections = client.get("/v1/admin/connections").json()["items"]
        seeded = next(c for c in connections if c["name"] == SEEDED_CONNECTION)
        made = client.post("/v1/admin/models", json={
            "connection_id": seeded["id"], "provider_model": EDITOR_UPSTREAM, "type": "image", "slug": EDITOR,
            "display_name": "OpenAI-compatible editor", "capabilities": ["image", "image-to-image", "inpainting"]})
        assert made.status_code == 201, made.text


def test_inpainting_sends_the_chosen_image_and_the_painted_mask(page: Any, studio: Studio,
                                                                openai: FakeOpenAI) -> None:
    _ensure_editor(studio)
    sign_up(page, "Mask Painter")
    page.goto("/generate/image")
    page.get_by_label("Model", exact=True).select_option(page.evaluate(MODEL_ID, EDITOR))
    page.get_by_label("Prompt", exact=True).fill("a red hat on the cat")
    picker = page.locator('input[type="file"]')

    # A file the model cannot take is refused in the page, with a sentence, before any upload.
    picker.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    expect(page.get_by_role("alert")).to_have_text(
        "“notes.txt” is not a PNG, JPEG, WebP or GIF image, so it cannot be used here. "
        "Choose a PNG, JPEG, WebP or GIF image.")
    expect(page.locator("canvas")).to_have_count(0)
    # "Generate" then says the image is not used rather than working from the prompt alone.
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert").filter(has_text="The image you chose is not used")).to_be_visible()

    # A PNG dropped on the zone.
    width, height = 320, 200
    photo = _png(width, height, (30, 90, 200))
    dropped = page.evaluate_handle("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'cat.png', {type: 'image/png'}));
        return transfer;
    }""", base64.b64encode(photo).decode())
    zone = page.get_by_role("group", name="Image", exact=True)
    zone.dispatch_event("dragover", {"dataTransfer": dropped})
    zone.dispatch_event("drop", {"dataTransfer": dropped})
    expect(page.get_by_text("cat.png · 320 × 200 pixels")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="notes.txt")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Image ready.")).to_have_count(1)

    # One horizontal stroke across the middle of the image, from 30% to 70% of its width.
    canvas = page.get_by_label("Mask: the area to change")
    box = canvas.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=8)
    page.mouse.up()
    check_page(page, "generate-image-mask")

    page.get_by_role("button", name="Generate").click()
    result = page.get_by_role("region", name="Result")
    expect(result.get_by_role("status")).to_have_text("Done.", timeout=MEDIA_TIMEOUT_MS)

    assert openai.received("POST", "/v1/images/generations") == []
    [edit] = openai.state["edits"]
    assert edit["image"].data == photo and edit["image"].filename
    assert edit["prompt"].text == "a red hat on the cat" and edit["model"].text == EDITOR_UPSTREAM
    # The page paints white where to change; OpenAI takes transparent there (the adapter
    # turns one into the other), so the mask the server got is clear along the stroke.
    with Image.open(io.BytesIO(edit["mask"].data)) as sent:
        assert sent.size == (width, height) and sent.mode == "RGBA"
        alpha = sent.getchannel("A")
    assert set(alpha.getdata()) <= {0, 255}, set(alpha.getdata())
    painted = [(x, yy) for yy in range(height) for x in range(width) if alpha.getpixel((x, yy)) == 0]
    # Painted: the stroke's line, and nothing far from it (the brush is 32 screen pixels wide).
    for x in (width * 3 // 10 + 2, width // 2, width * 7 // 10 - 2):
        assert alpha.getpixel((x, height // 2)) == 0, x
    scale = width / box["width"]
    reach = 16 * scale + 2
    assert all(width * 0.3 - reach <= x <= width * 0.7 + reach and abs(yy - height / 2) <= reach for x, yy in painted)
    for x, yy in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1), (width // 10, height // 2),
                  (width - width // 10, height // 2), (width // 2, height // 10), (width // 2, height - height // 10)):
        assert alpha.getpixel((x, yy)) == 255, (x, yy)

    # "Run again" sends the same image and mask again, as a new generation.
    first_url = page.url
    result.get_by_role("button", name="Run again").click()
    page.wait_for_url(lambda url: "generation=" in url and url != first_url)
    expect(result.get_by_role("status")).to_have_text("Done.", timeout=MEDIA_TIMEOUT_MS)
    first, again = openai.state["edits"]
    assert again["image"].data == photo and again["mask"].data == first["mask"].data
    # After a reload too: the generation says which image and mask it started from.
    page.reload()
    again_url = page.url
    expect(result.get_by_role("status")).to_have_text("Done.", timeout=MEDIA_TIMEOUT_MS)
    result.get_by_role("button", name="Run again").click()
    page.wait_for_url(lambda url: "generation=" in url and url != again_url)
    expect(result.get_by_role("status")).to_have_text("Done.", timeout=MEDIA_TIMEOUT_MS)
    *_, reloaded = openai.state["edits"]
    assert reloaded["image"].data == photo and reloaded["mask"].data == first["mask"].data
    page.reload()  # (the form as a fresh page shows it, for what follows)

    # One of the user's results (the fake's edit is the image it got) as the image, with
    # nothing painted: a whole-image edit, without a mask.
    page.get_by_text("Or use one of your images").click()
    page.get_by_role("button", name="a red hat on the cat").first.click()
    expect(page.get_by_text("a red hat on the cat · 320 × 200 pixels")).to_be_visible()
    expect(page.get_by_role("button", name="Clear mask")).to_be_disabled()
    second_url = page.url
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(lambda url: "generation=" in url and url != second_url)
    expect(result.get_by_role("status")).to_have_text("Done.", timeout=MEDIA_TIMEOUT_MS)
    *_, whole = openai.state["edits"]
    assert whole["image"].data == photo and "mask" not in whole, sorted(whole)
    watch_of(page).assert_clean()
