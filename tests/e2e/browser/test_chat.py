"""Chat in the browser: a new user signs up, picks the model, sees the answer stream in
piece by piece, edits a message, regenerates an answer, switches between the branches,
and finds the same branch after a reload. Model output never runs as HTML. Two models
answer side by side and the user keeps one; an image goes to a vision model; a
conversation's title written by the title model appears without a reload; dictation
puts a recording's text into the message box."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOpenAI

from .harness import (
    BROWSER_ARGS,
    CHROMIUM,
    DESKTOP,
    PHONE,
    SEEDED_CONNECTION,
    Studio,
    api_call,
    check_page,
    new_context,
    no_sideways_scroll,
    screenshot,
    script_answer,
    sign_up,
    watch_of,
)

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


# -- models beside the one every test uses ----------------------------------------------


@contextmanager
def _extra_model(studio: Studio, **fields: Any) -> Iterator[dict[str, Any]]:
    """A model registered by the admin on the seeded connection (the fake OpenAI server)
    for one test, and removed after it, so the pickers of later tests stay as they were."""
    with studio.admin_http() as client:
        connections = client.get("/v1/admin/connections")
        assert connections.status_code == 200, connections.text
        seeded = next(c for c in connections.json()["items"] if c["name"] == SEEDED_CONNECTION)
        made = client.post("/v1/admin/models", json={"connection_id": seeded["id"], **fields})
        assert made.status_code == 201, made.text
    try:
        yield made.json()
    finally:
        with studio.admin_http() as client:
            gone = client.delete(f"/v1/admin/models/{made.json()['id']}")
            assert gone.status_code == 204, gone.text


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour (the browser decodes it; the API sniffs its type)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_two_models_answer_side_by_side_and_the_user_keeps_one(page: Any, openai: FakeOpenAI,
                                                               studio: Studio) -> None:
    with _extra_model(studio, provider_model="qwen2.5:7b", type="chat", slug="second-chat",
                      display_name="Second chat"):
        sign_up(page, "Compare Tester")
        page.get_by_label("Model", exact=True).select_option(label=MODEL)
        # No model transcribes here: no microphone button.
        expect(page.get_by_role("button", name="Dictate")).to_have_count(0)
        page.get_by_role("button", name="Compare").click()
        picks = page.get_by_role("group", name=re.compile("Compare 2 to 4 models"))
        expect(picks.get_by_label(MODEL)).to_be_checked()  # the model picked is one of them
        page.get_by_label("Message", exact=True).fill("Which pet is best?")
        expect(page.get_by_role("button", name="Send")).to_be_disabled()  # one model is no comparison
        picks.get_by_label("Second chat").check()

        text = script_answer(openai, "Cats, ", "for ", "quiet homes.", delay=0.05)
        page.get_by_role("button", name="Send").click()
        first = page.get_by_role("article", name=f"Answer from {MODEL}")
        second = page.get_by_role("article", name="Answer from Second chat")
        for column in (first, second):
            expect(column).to_contain_text(text)
            expect(column.get_by_role("button", name="Keep this one")).to_be_visible()
        # Each model was asked by its own upstream name, the same question.
        asked = openai.received("POST", "/v1/chat/completions")
        assert sorted(r.json()["model"] for r in asked) == ["llama3", "qwen2.5:7b"]
        assert all(r.json()["messages"][-1]["content"] == "Which pet is best?" for r in asked)
        # Side by side on a desktop, one above the other on a phone.
        left, right = first.bounding_box(), second.bounding_box()
        assert right["x"] >= left["x"] + left["width"] and abs(right["y"] - left["y"]) < 1, (left, right)
        expect(page.get_by_role("button", name="Send")).to_be_disabled()  # keep one first
        expect(page.get_by_text("Keep one of the answers to go on from it.")).to_be_visible()
        check_page(page, "chat-compare")
        page.set_viewport_size(PHONE)
        top, below = first.bounding_box(), second.bounding_box()
        assert below["y"] >= top["y"] + top["height"], (top, below)
        no_sideways_scroll(page)
        screenshot(page, "chat-compare-phone")
        page.set_viewport_size(DESKTOP)

        second.get_by_role("button", name="Keep this one").click()
        expect(page.get_by_role("article", name=re.compile("^Answer from"))).to_have_count(0)
        kept = _article(page, "Assistant")
        expect(kept).to_have_count(1)
        expect(kept).to_contain_text("second-chat")
        expect(kept).to_contain_text(text)
        expect(_versions(kept)).to_contain_text(re.compile(r"[12]/2"))  # the other answer is its sibling
        page.reload()
        expect(_article(page, "You")).to_contain_text("Which pet is best?")
        expect(_article(page, "Assistant")).to_contain_text("second-chat")
        expect(_versions(_article(page, "Assistant"))).to_contain_text(re.compile(r"[12]/2"))
        watch_of(page).assert_clean()


def test_an_image_attached_goes_to_a_vision_model(page: Any, openai: FakeOpenAI, studio: Studio) -> None:
    red, blue = _png(3, 2, (220, 30, 30)), _png(2, 2, (30, 30, 220))
    with _extra_model(studio, provider_model="llava", type="chat", slug="vision-chat", display_name="Vision chat",
                      capabilities=["chat", "vision"]):
        sign_up(page, "Vision Tester")
        picker = page.get_by_label("Model", exact=True)
        picker.select_option(label=MODEL)
        expect(page.get_by_label("Attach images")).to_have_count(0)  # that model takes no images
        picker.select_option(label="Vision chat")
        page.get_by_label("Attach images").set_input_files(files=[
            {"name": "red.png", "mimeType": "image/png", "buffer": red},
            {"name": "blue.png", "mimeType": "image/png", "buffer": blue}])
        pending = page.get_by_role("list", name="Images to send")
        expect(pending.get_by_role("img")).to_have_count(2)
        pending.get_by_role("button", name="Remove blue.png").click()
        expect(pending.get_by_role("img")).to_have_count(1)
        expect(pending.get_by_role("img", name="red.png")).to_be_visible()
        check_page(page, "chat-attachments")

        # A model without vision would refuse it: the page says so before sending.
        page.get_by_label("Message", exact=True).fill("What colour is this?")
        picker.select_option(label=MODEL)
        expect(page.get_by_role("alert")).to_contain_text(
            f"{MODEL} does not take images. Pick a model that does (Vision chat), or remove the images.")
        expect(page.get_by_role("button", name="Send")).to_be_disabled()
        picker.select_option(label="Vision chat")

        script_answer(openai, "It is ", "red.")
        page.get_by_role("button", name="Send").click()
        _answered(page, "It is red.")
        expect(page.get_by_role("list", name="Images to send")).to_have_count(0)
        shown = _article(page, "You").get_by_role("img", name="Attached image 1 of 1")
        expect(shown).to_be_visible()
        # Loaded from Studio with the session: the browser decoded the 3x2 picture.
        page.wait_for_function("img => img.complete && img.naturalWidth === 3 && img.naturalHeight === 2",
                               arg=shown.element_handle())

        sent = openai.received("POST", "/v1/chat/completions")[-1].json()
        assert sent["model"] == "llava"
        question = sent["messages"][-1]
        assert question["role"] == "user"
        images = [p["image_url"]["url"] for p in question["content"] if p["type"] == "image_url"]
        texts = [p["text"] for p in question["content"] if p["type"] == "text"]
        assert texts == ["What colour is this?"], question
        assert len(images) == 1 and images[0].startswith("data:image/png;base64,"), images
        assert base64.b64decode(images[0].partition(",")[2]) == red

        page.reload()
        expect(_article(page, "You").get_by_role("img", name="Attached image 1 of 1")).to_be_visible()

        # An edited question keeps its image: the new branch's message has it, and so does
        # what the model is sent.
        script_answer(openai, "Still ", "red.")
        question = _article(page, "You")
        question.get_by_role("button", name="Edit").click()
        question.get_by_label("Edit message").fill("Which colour, exactly?")
        question.get_by_role("button", name="Send").click()
        _answered(page, "Still red.")
        expect(_versions(_article(page, "You"))).to_contain_text("2/2")
        expect(_article(page, "You").get_by_role("img", name="Attached image 1 of 1")).to_be_visible()
        question = openai.received("POST", "/v1/chat/completions")[-1].json()["messages"][-1]
        assert [p["text"] for p in question["content"] if p["type"] == "text"] == ["Which colour, exactly?"]
        images = [p["image_url"]["url"] for p in question["content"] if p["type"] == "image_url"]
        assert [base64.b64decode(url.partition(",")[2]) for url in images] == [red]
        watch_of(page).assert_clean()


def test_the_title_model_names_a_new_conversation_on_the_page(page: Any, openai: FakeOpenAI,
                                                              studio: Studio) -> None:
    sign_up(page, "Title Tester")
    with studio.admin_http() as client:
        marked = client.patch(f"/v1/admin/models/{studio.chat_model_id}", json={"use_for_titles": True})
        assert marked.status_code == 200, marked.text
    try:
        page.goto("/chat")
        heading = page.get_by_role("heading", level=1)
        sidebar = page.get_by_role("navigation", name="Conversations")
        # The fake answers the question and the title request alike.
        script_answer(openai, "Wombats ", "dig long ", "burrows.")
        page.get_by_label("Message", exact=True).fill("Tell me about wombats\nand their burrows")
        page.get_by_role("button", name="Send").click()
        _answered(page, "Wombats dig long burrows.")
        # The first line stands in as the title (title_auto), until the title model's comes;
        # no reload: the page asks for the title again until it changed.
        expect(heading).to_have_text("Wombats dig long burrows")
        expect(sidebar.get_by_role("link", name="Wombats dig long burrows")).to_have_attribute("aria-current", "page")
        expect(page).to_have_title("Wombats dig long burrows · Studio")
        [made] = api_call(page, "GET", "/v1/conversations")[1]["items"]
        assert (made["title"], made["title_auto"]) == ("Wombats dig long burrows", True)
        asked = [r.json()["messages"] for r in openai.received("POST", "/v1/chat/completions")]
        assert any(m[0]["role"] == "system" and m[0]["content"].startswith("Write a title") for m in asked), asked
        watch_of(page).assert_clean()
    finally:
        with studio.admin_http() as client:
            unmarked = client.patch(f"/v1/admin/models/{studio.chat_model_id}", json={"use_for_titles": False})
            assert unmarked.status_code == 200, unmarked.text


def test_dictation_puts_the_recording_text_in_the_message_box(browser: Any, studio: Studio,
                                                              openai: FakeOpenAI) -> None:
    with _extra_model(studio, provider_model="whisper-1", type="audio", slug="whisper", display_name="Whisper",
                      capabilities=["transcription"]):
        # Chromium's fake microphone (a tone), allowed without asking: a real recording.
        microphone = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=[
            *BROWSER_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        try:
            context = new_context(microphone, studio)
            context.grant_permissions(["microphone"], origin=studio.url)
            page = context.new_page()
            sign_up(page, "Voice Tester")
            box = page.get_by_label("Message", exact=True)
            box.fill("Note:")
            page.get_by_role("button", name="Dictate").click()
            expect(page.get_by_role("status").filter(has_text="Recording…")).to_be_visible()
            page.get_by_role("button", name="Stop recording").click()
            expect(box).to_have_value("Note: Hello from the recording.")
            expect(page.get_by_role("button", name="Dictate")).to_be_enabled()
            [form] = openai.state["transcriptions"]
            assert form["model"].text == "whisper-1"
            assert form["file"].filename == "audio.webm" and form["file"].data[:4] == b"\x1a\x45\xdf\xa3"  # WebM
            check_page(page, "chat-dictation")
        finally:
            microphone.close()
