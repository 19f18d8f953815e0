"""Generate in the browser with the local providers: speech with eSpeak NG, a video with
ffmpeg. The page shows progress while the worker runs, then a player whose media loads
and reports its duration; a running generation can be canceled."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import check_page, sign_up, watch_of

_MISSING_TOOLS = [tool for tool in ("espeak-ng", "ffmpeg", "ffprobe") if shutil.which(tool) is None]

pytestmark = [pytest.mark.slow, needs_postgres,
              pytest.mark.skipif(bool(_MISSING_TOOLS), reason=f"not installed: {', '.join(_MISSING_TOOLS)}")]

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
