"""Anthropic's Messages API, streamed, against a fake speaking its wire format."""

from __future__ import annotations

import asyncio
import base64
import re

import pytest

from studio.providers.anthropic import DEFAULT_BASE_URL, MODELS_MAX_PAGES, AnthropicChat
from studio.providers.base import (
    ChatImage,
    ChatMessage,
    ChatUsage,
    ProviderUnavailable,
    UpstreamModel,
)
from tests.providers.conftest import HI, chat_helpers, fake_per_module, make_settings
from tests.providers.fakes import (
    KEY,
    PNG,
    FakeAnthropic,
    Reply,
    anthropic_error,
    anthropic_event,
    anthropic_stream,
)

MESSAGES = ("POST", "/v1/messages")

_fake_server, fake = fake_per_module(FakeAnthropic)
connection, chat, failing_chat = chat_helpers(AnthropicChat, name="claude", kind="anthropic",
                                              default_model="claude-test-1", default_key=KEY)


def test_text_streams_in_order_then_the_usage(fake):
    assert chat(fake) == ["Hel", "lo, ", "world", ChatUsage(input_tokens=25, output_tokens=12)]

    [call] = fake.received(*MESSAGES)
    # The registry's upstream name, as it is; max_tokens is required, so a default goes.
    assert call.json() == {"model": "claude-test-1", "max_tokens": 4096, "stream": True,
                           "messages": [{"role": "user", "content": "hi"}]}
    assert call.headers["x-api-key"] == KEY
    assert call.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in call.headers


def test_deltas_arrive_before_the_stream_ends(fake):
    fake.state["delay"] = 0.1
    finished = fake.state["finished"]

    async def scenario() -> tuple[str | ChatUsage, bool]:
        provider = AnthropicChat(make_settings(), connection(fake))
        try:
            stream = provider.stream_chat(model="claude-test-1", messages=HI)
            first = await anext(stream)
            still_sending = not finished.is_set()
            await stream.aclose()
            return first, still_sending
        finally:
            await provider.aclose()

    assert asyncio.run(scenario()) == ("Hel", True)


def test_system_prompt_and_image_in_anthropic_format(fake):
    messages = [ChatMessage("system", "be brief"), ChatMessage("system", "answer in French"),
                ChatMessage("user", "what is this?", images=[ChatImage("image/png", PNG)]),
                ChatMessage("assistant", "un renard"),
                ChatMessage("user", "sure?")]

    chat(fake, messages)

    body = fake.received(*MESSAGES)[0].json()
    assert body["system"] == "be brief\n\nanswer in French"
    image, text = body["messages"][0]["content"]
    assert image["type"] == "image"
    assert image["source"]["type"] == "base64" and image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == PNG
    assert text == {"type": "text", "text": "what is this?"}
    assert body["messages"][1:] == [{"role": "assistant", "content": "un renard"},
                                    {"role": "user", "content": "sure?"}]


def test_an_image_without_text_and_tool_and_blank_turns(fake):
    """A blank turn is refused by the API (a stored answer may be " "); there is no tool role."""
    messages = [ChatMessage("user", "", images=[ChatImage("image/jpeg", b"\xff\xd8\xff-jpeg")]),
                ChatMessage("assistant", " "),
                ChatMessage("tool", "42")]

    chat(fake, messages)

    turns = fake.received(*MESSAGES)[0].json()["messages"]
    assert [t["role"] for t in turns] == ["user", "user"]
    assert [block["type"] for block in turns[0]["content"]] == ["image"]
    assert base64.b64decode(turns[0]["content"][0]["source"]["data"]) == b"\xff\xd8\xff-jpeg"
    assert turns[1]["content"] == "42"


def test_generic_params_take_anthropic_names(fake):
    chat(fake, params={"temperature": 0.2, "max_tokens": 100, "top_p": 0.9, "stop": "\n\nHuman:",
                       "seed": 7, "frequency_penalty": 1.0, "top_k": None})

    body = fake.received(*MESSAGES)[0].json()
    assert {k: v for k, v in body.items() if k not in ("model", "messages", "stream")} == {
        "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["\n\nHuman:"]}


def test_a_429_is_retried_after_its_retry_after(fake):
    fake.queue(*MESSAGES, Reply(429, json={"type": "error", "error": {"type": "rate_limit_error",
                                                                       "message": "slow down"}},
                                headers={"retry-after": "0.3"}))

    assert chat(fake)[:3] == ["Hel", "lo, ", "world"]

    first, second = fake.received(*MESSAGES)
    assert second.at - first.at >= 0.28


@pytest.mark.parametrize(("replies", "message", "retryable", "attempts"), [
    ([anthropic_error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")],
     "HTTP 400 from POST /v1/messages: prompt is too long", False, 1),
    ([anthropic_error(529, "overloaded_error", "Overloaded")] * 3, "HTTP 529 .*Overloaded", True, 3),
])
def test_an_error_body_message_is_in_the_error(fake, replies, message, retryable, attempts):
    fake.queue(*MESSAGES, *replies)

    error, received = failing_chat(fake)

    assert received == []
    assert error.retryable is retryable
    assert str(error).startswith("anthropic: ")
    assert re.search(message, str(error))
    assert len(fake.received(*MESSAGES)) == attempts


def test_the_key_is_never_in_an_error(fake):
    wrong = "sk-ant-wrong-7e1a9c"
    error, _ = failing_chat(fake, key=wrong)

    assert "invalid x-api-key" in str(error) and error.retryable is False
    assert wrong not in str(error)

    fake.queue(*MESSAGES, anthropic_error(400, "invalid_request_error", f"bad header x-api-key: {KEY}"))
    error, _ = failing_chat(fake)

    assert KEY not in str(error) and "[redacted]" in str(error)


@pytest.mark.parametrize(("kind", "retryable"), [("overloaded_error", True), ("api_error", True),
                                                 ("invalid_request_error", False)])
def test_an_error_event_in_the_stream(fake, kind, retryable):
    fake.state["events"] = [*anthropic_stream("Hel", end=False),
                            anthropic_event("error", error={"type": kind, "message": "Something broke"})]

    error, received = failing_chat(fake)

    assert received == ["Hel"]
    assert error.retryable is retryable
    assert f"error in the chat stream: {kind}: Something broke" in str(error)


def test_a_stream_ending_before_message_stop_is_retryable(fake):
    fake.state["events"] = anthropic_stream("partial", end=False)

    error, received = failing_chat(fake)

    assert received == ["partial"]
    assert error.retryable is True and "ended before message_stop" in str(error)


def test_a_stream_cut_midway_is_retryable(fake):
    fake.state["cut_after"] = 4  # after message_start, content_block_start, ping, "Hel"

    error, received = failing_chat(fake)

    assert received == ["Hel"]
    assert error.retryable is True
    assert "while reading the reply to POST /v1/messages" in str(error)
    assert len(fake.received(*MESSAGES)) == 1  # never re-sent mid-answer


def test_closing_the_stream_early_closes_the_connection(fake):
    fake.state["delay"] = 0.2

    async def scenario() -> tuple[str | ChatUsage, bool]:
        provider = AnthropicChat(make_settings(), connection(fake))
        try:
            stream = provider.stream_chat(model="claude-test-1", messages=HI)
            first = await anext(stream)
            await stream.aclose()  # what the chat endpoint does when its client leaves
            # Before the client is closed: the generator alone must have let go of the response.
            gone = await asyncio.to_thread(fake.state["abandoned"].wait, 3)
            return first, gone
        finally:
            await provider.aclose()

    assert asyncio.run(scenario()) == ("Hel", True)
    assert not fake.state["finished"].is_set()


def test_thinking_deltas_unknown_events_and_cached_tokens(fake):
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-test-1",
               "usage": {"input_tokens": 4, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 100,
                         "output_tokens": 1}}
    fake.state["events"] = [
        anthropic_event("message_start", message=message),
        anthropic_event("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        anthropic_event("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "hmm"}),
        anthropic_event("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "x"}),
        anthropic_event("content_block_stop", index=0),
        anthropic_event("some_future_event", detail=1),
        anthropic_event("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        anthropic_event("content_block_delta", index=1, delta={"type": "text_delta", "text": "answer \u2028é"}),
        anthropic_event("content_block_stop", index=1),
        anthropic_event("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 30}),
        anthropic_event("message_stop"),
    ]

    assert chat(fake) == ["answer \u2028é", ChatUsage(input_tokens=114, output_tokens=30)]


@pytest.mark.parametrize(("events", "message"), [
    (["event: message_start\ndata: {broken\n\n"], "malformed JSON in the chat stream"),
    (["data: [1, 2]\n\n"], "not a JSON object"),
])
def test_malformed_events(fake, events, message):
    fake.state["events"] = events

    error, _ = failing_chat(fake)

    assert message in str(error) and error.retryable is False


def test_list_models_follows_the_pages(fake):
    async def scenario() -> list[UpstreamModel]:
        provider = AnthropicChat(make_settings(), connection(fake))
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    models = asyncio.run(scenario())

    assert [m.name for m in models] == [f"claude-test-{i}" for i in range(1, 6)]
    assert models[0] == UpstreamModel("claude-test-1", "Claude Test 1", frozenset({"chat"}))
    calls = fake.received("GET", "/v1/models")
    assert [c.query for c in calls] == [{"limit": "100"}, {"limit": "100", "after_id": "claude-test-2"},
                                        {"limit": "100", "after_id": "claude-test-4"}]
    assert all(c.headers["x-api-key"] == KEY and c.headers["anthropic-version"] == "2023-06-01" for c in calls)


def test_list_models_stops_after_a_few_pages(fake):
    fake.state["models"] = [{"type": "model", "id": f"m-{i}", "display_name": None} for i in range(50)]
    fake.state["page_size"] = 1

    async def scenario() -> list[UpstreamModel]:
        provider = AnthropicChat(make_settings(), connection(fake))
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    assert [m.name for m in asyncio.run(scenario())] == [f"m-{i}" for i in range(MODELS_MAX_PAGES)]
    assert len(fake.received("GET", "/v1/models")) == MODELS_MAX_PAGES


def test_without_a_key_it_is_unavailable(fake):
    provider = AnthropicChat(make_settings(), connection(fake, key=None))
    assert provider.unavailable_reason() == "the connection 'claude' has no API key"

    with pytest.raises(ProviderUnavailable):
        chat(fake, key=None)
    assert fake.requests == []


@pytest.mark.parametrize("base_url", ["", "https://api.anthropic.com/", "https://api.anthropic.com/v1"])
def test_the_default_base_url(fake, base_url):
    provider = AnthropicChat(make_settings(), connection(fake, base_url=base_url))

    assert provider._http.base_url == DEFAULT_BASE_URL
    assert provider._http.url("v1/messages") == "https://api.anthropic.com/v1/messages"
    asyncio.run(provider.aclose())
