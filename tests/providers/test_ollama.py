"""Ollama's native /api/chat (newline-delimited JSON) against a fake speaking its wire format."""

from __future__ import annotations

import asyncio
import base64

import pytest

from studio.providers.base import (
    ChatImage,
    ChatMessage,
    ChatUsage,
    UpstreamModel,
)
from studio.providers.ollama import DEFAULT_BASE_URL, OllamaChat
from tests.providers.conftest import HI, chat_helpers, fake_per_module, make_settings
from tests.providers.fakes import (
    KEY,
    PNG,
    FakeOllama,
    Reply,
    ollama_line,
)

CHAT = ("POST", "/api/chat")
MODEL = "llama3.2:latest"

_fake_server, fake = fake_per_module(FakeOllama)
connection, chat, failing_chat = chat_helpers(OllamaChat, name="local", kind="ollama",
                                              default_model=MODEL, default_key=None)


def test_text_streams_in_order_then_the_usage(fake):
    assert chat(fake) == ["Hel", "lo, ", "world", ChatUsage(input_tokens=26, output_tokens=3)]

    [call] = fake.received(*CHAT)
    assert call.json() == {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    assert "authorization" not in call.headers  # a local server needs no key


def test_deltas_arrive_before_the_stream_ends(fake):
    fake.state["delay"] = 0.1
    finished = fake.state["finished"]

    async def scenario() -> tuple[str | ChatUsage, bool]:
        provider = OllamaChat(make_settings(), connection(fake))
        try:
            stream = provider.stream_chat(model=MODEL, messages=HI)
            first = await anext(stream)
            still_sending = not finished.is_set()
            await stream.aclose()
            return first, still_sending
        finally:
            await provider.aclose()

    assert asyncio.run(scenario()) == ("Hel", True)


def test_system_prompt_image_and_tool_messages_in_ollama_format(fake):
    messages = [ChatMessage("system", "be brief"),
                ChatMessage("user", "what is this?", images=[ChatImage("image/png", PNG)]),
                ChatMessage("assistant", "a fox"),
                ChatMessage("tool", "42")]

    chat(fake, messages, model="llava:7b")

    sent = fake.received(*CHAT)[0].json()["messages"]
    assert sent[0] == {"role": "system", "content": "be brief"}
    assert sent[1]["role"] == "user" and sent[1]["content"] == "what is this?"
    [image] = sent[1]["images"]
    assert base64.b64decode(image) == PNG  # bare base64, no data: URL
    assert sent[2:] == [{"role": "assistant", "content": "a fox"}, {"role": "tool", "content": "42"}]


def test_generic_params_become_options(fake):
    chat(fake, params={"temperature": 0.2, "max_tokens": 100, "top_p": 0.9, "stop": "</s>",
                       "seed": None, "frequency_penalty": 1.0})

    body = fake.received(*CHAT)[0].json()
    assert body["options"] == {"temperature": 0.2, "num_predict": 100, "top_p": 0.9, "stop": ["</s>"]}
    assert set(body) == {"model", "messages", "stream", "options"}


def test_a_key_goes_as_a_bearer_token_and_never_into_an_error(fake):
    fake.state["key"] = KEY

    assert chat(fake, key=KEY)[:3] == ["Hel", "lo, ", "world"]
    assert fake.received(*CHAT)[0].headers["authorization"] == f"Bearer {KEY}"

    wrong = "ollama-wrong-key-5150"
    error, _ = failing_chat(fake, key=wrong)
    assert "HTTP 401" in str(error) and "unauthorized" in str(error) and error.retryable is False
    assert wrong not in str(error)

    fake.queue(*CHAT, Reply(400, json={"error": f"bad token {KEY}"}))
    error, _ = failing_chat(fake, key=KEY)
    assert KEY not in str(error) and "[redacted]" in str(error)


def test_a_429_is_retried_after_its_retry_after(fake):
    """Ollama itself answers 503 when busy; a proxy in front of it may rate-limit."""
    fake.queue(*CHAT, Reply(429, json={"error": "too many requests"}, headers={"retry-after": "0.3"}),
               Reply(503, json={"error": "server busy, please try again.  maximum pending requests exceeded"}))

    assert chat(fake)[:3] == ["Hel", "lo, ", "world"]

    first, second, _ = fake.received(*CHAT)
    assert second.at - first.at >= 0.28


def test_an_error_body_message_is_in_the_error(fake):
    error, received = failing_chat(fake, model="mistral:7b")

    assert received == []
    assert error.retryable is False
    assert str(error) == 'ollama: HTTP 404 from POST /api/chat: model "mistral:7b" not found, try pulling it first'


def test_an_error_line_in_the_stream(fake):
    fake.state["lines"] = [ollama_line("Hel"), {"error": "an error was encountered while running the model"}]

    error, received = failing_chat(fake)

    assert received == ["Hel"]
    assert "error in the chat stream: an error was encountered while running the model" in str(error)


def test_a_stream_ending_before_done_is_retryable(fake):
    fake.state["lines"] = [ollama_line("Hel"), ollama_line("lo")]

    error, received = failing_chat(fake)

    assert received == ["Hel", "lo"]
    assert error.retryable is True and 'ended before "done": true' in str(error)


def test_a_stream_cut_midway_is_retryable(fake):
    fake.state["cut_after"] = 1

    error, received = failing_chat(fake)

    assert received == ["Hel"]
    assert error.retryable is True
    assert "while reading the reply to POST /api/chat" in str(error)
    assert len(fake.received(*CHAT)) == 1


def test_closing_the_stream_early_closes_the_connection(fake):
    fake.state["delay"] = 0.2

    async def scenario() -> tuple[str | ChatUsage, bool]:
        provider = OllamaChat(make_settings(), connection(fake))
        try:
            stream = provider.stream_chat(model=MODEL, messages=HI)
            first = await anext(stream)
            await stream.aclose()
            gone = await asyncio.to_thread(fake.state["abandoned"].wait, 3)
            return first, gone
        finally:
            await provider.aclose()

    assert asyncio.run(scenario()) == ("Hel", True)
    assert not fake.state["finished"].is_set()


def test_line_framing(fake):
    """A line split across network chunks, a character split between two of them, blank
    lines, thinking, and a last line without its newline."""
    first = '{"message":{"role":"assistant","content":"caf\u00e9 \u2028"},"done":false}\n'.encode()
    cut = first.index("\u00e9".encode()) + 1
    fake.state["raw"] = [first[:cut], first[cut:], b"\n\n",
                         b'{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}\n',
                         b'{"message":{"role":"assistant","content":""},"done":true,"eval_count":2}']

    assert chat(fake) == ["caf\u00e9 \u2028", ChatUsage(input_tokens=None, output_tokens=2)]


@pytest.mark.parametrize(("raw", "message"), [
    ([b"{broken\n"], "malformed JSON in the stream"),
    ([b"[1, 2]\n"], "not a JSON object"),
    ([b"x" * (1024 * 1024 + 10)], "a stream line is too long"),
])
def test_malformed_lines(fake, raw, message):
    fake.state["raw"] = raw

    error, _ = failing_chat(fake)

    assert message in str(error) and error.retryable is False


def test_done_without_counts_reports_no_usage(fake):
    fake.state["lines"] = [ollama_line("hi"), {"message": {"role": "assistant", "content": ""}, "done": True}]

    assert chat(fake) == ["hi"]


def test_list_models_marks_vision_families(fake):
    async def scenario() -> list[UpstreamModel]:
        provider = OllamaChat(make_settings(), connection(fake))
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    models = asyncio.run(scenario())

    chat_only, vision = frozenset({"chat"}), frozenset({"chat", "vision"})
    assert models == [UpstreamModel("llama3.2:latest", "llama3.2:latest", chat_only),
                      UpstreamModel("llava:7b", "llava:7b", vision),
                      UpstreamModel("llama3.2-vision:11b", "llama3.2-vision:11b", vision),
                      UpstreamModel("qwen2.5:0.5b", "qwen2.5:0.5b", chat_only)]
    assert len(fake.received("GET", "/api/tags")) == 1


@pytest.mark.parametrize("base_url", ["", "http://127.0.0.1:11434/", "http://127.0.0.1:11434/api",
                                      "http://127.0.0.1:11434/v1"])
def test_the_default_base_url(fake, base_url):
    provider = OllamaChat(make_settings(), connection(fake, base_url=base_url))

    assert provider.unavailable_reason() is None
    assert provider._http.base_url == DEFAULT_BASE_URL
    asyncio.run(provider.aclose())
