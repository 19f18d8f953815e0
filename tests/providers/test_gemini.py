"""Gemini's streamGenerateContent (alt=sse) against a fake speaking its wire format."""

from __future__ import annotations

import asyncio
import base64
import re

import pytest

from studio.providers.base import (
    ChatImage,
    ChatMessage,
    ChatUsage,
    ProviderUnavailable,
    UpstreamModel,
)
from studio.providers.gemini import DEFAULT_BASE_URL, GeminiChat, _resource
from tests.providers.conftest import HI, chat_helpers, fake_per_module, make_settings
from tests.providers.fakes import (
    JPEG,
    KEY,
    FakeGemini,
    Reply,
    gemini_chunk,
    gemini_error,
)

GENERATE = ("POST", "/v1beta/models/{model}:streamGenerateContent")

_fake_server, fake = fake_per_module(FakeGemini)
connection, chat, failing_chat = chat_helpers(GeminiChat, name="google", kind="gemini",
                                              default_model="gemini-test-flash", default_key=KEY)


async def _list(fake: FakeGemini) -> list[UpstreamModel]:
    provider = GeminiChat(make_settings(), connection(fake))
    try:
        return await provider.list_models()
    finally:
        await provider.aclose()


def test_text_streams_in_order_then_the_usage(fake):
    assert chat(fake) == ["Hel", "lo, ", "world", ChatUsage(input_tokens=9, output_tokens=3)]

    [call] = fake.received(*GENERATE)
    assert call.path == "/v1beta/models/gemini-test-flash:streamGenerateContent"
    assert call.query == {"alt": "sse"}  # and no key= in the URL
    assert call.headers["x-goog-api-key"] == KEY
    assert "authorization" not in call.headers
    assert call.json() == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_deltas_arrive_before_the_stream_ends(fake):
    fake.state["delay"] = 0.1
    finished = fake.state["finished"]

    async def scenario() -> tuple[str | ChatUsage, bool]:
        provider = GeminiChat(make_settings(), connection(fake))
        try:
            stream = provider.stream_chat(model="gemini-test-flash", messages=HI)
            first = await anext(stream)
            still_sending = not finished.is_set()
            await stream.aclose()
            return first, still_sending
        finally:
            await provider.aclose()

    assert asyncio.run(scenario()) == ("Hel", True)


def test_system_instruction_image_and_alternating_turns(fake):
    messages = [ChatMessage("system", "be brief"),
                ChatMessage("user", "what is this?", images=[ChatImage("image/jpeg", JPEG)]),
                ChatMessage("assistant", "a fox"),
                ChatMessage("user", "and this?"),
                ChatMessage("assistant", " "),   # a blank stored answer: no turn
                ChatMessage("tool", "42")]       # no tool role: relayed as the user's

    chat(fake, messages)

    body = fake.received(*GENERATE)[0].json()
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    first, answer, last = body["contents"]
    assert first["role"] == "user"
    inline = first["parts"][0]["inlineData"]
    assert inline["mimeType"] == "image/jpeg" and base64.b64decode(inline["data"]) == JPEG
    assert first["parts"][1] == {"text": "what is this?"}
    assert answer == {"role": "model", "parts": [{"text": "a fox"}]}
    assert last == {"role": "user", "parts": [{"text": "and this?"}, {"text": "42"}]}


def test_generic_params_go_in_generation_config(fake):
    chat(fake, params={"temperature": 0.2, "max_tokens": 100, "top_p": 0.9, "stop": ["END", "STOP"],
                       "seed": 7, "presence_penalty": None})

    body = fake.received(*GENERATE)[0].json()
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 100, "topP": 0.9,
                                        "stopSequences": ["END", "STOP"]}


def test_the_model_name_is_sent_as_it_is(fake):
    """Discovery strips "models/", but a registry entry that kept it works too."""
    chat(fake, model="models/gemini-test-flash")

    assert fake.requests[0].path == "/v1beta/models/gemini-test-flash:streamGenerateContent"


@pytest.mark.parametrize(("model", "resource"), [
    ("gemini-2.5-flash", "models/gemini-2.5-flash"),
    ("models/gemini-2.5-flash", "models/gemini-2.5-flash"),
    ("tunedModels/my-tune-1", "tunedModels/my-tune-1"),
    ("a/../../b", "models/a%2F..%2F..%2Fb"),         # one segment, never a path
    ("models/x:y?key=1", "models/x%3Ay%3Fkey%3D1"),
])
def test_the_model_resource(model, resource):
    assert _resource(model) == resource


def test_a_429_is_retried_after_its_retry_after(fake):
    fake.queue(*GENERATE, Reply(429, json={"error": {"code": 429, "message": "Resource has been exhausted",
                                                     "status": "RESOURCE_EXHAUSTED"}},
                                headers={"retry-after": "0.3"}))

    assert chat(fake)[:3] == ["Hel", "lo, ", "world"]

    first, second = fake.received(*GENERATE)
    assert second.at - first.at >= 0.28


def test_an_error_body_message_is_in_the_error(fake):
    error, received = failing_chat(fake, model="gemini-missing")

    assert received == []
    assert error.retryable is False
    assert str(error).startswith("gemini: HTTP 404 from POST /v1beta/models/gemini-missing:streamGenerateContent")
    assert "models/gemini-missing is not found for API version v1beta" in str(error)

    fake.queue(*GENERATE, *[gemini_error(503, "UNAVAILABLE", "The model is overloaded.")] * 3)
    error, _ = failing_chat(fake)

    assert error.retryable is True and "The model is overloaded." in str(error)
    assert len(fake.received(*GENERATE)) == 1 + 3


def test_the_key_is_never_in_an_error(fake):
    wrong = "AIzaSy-wrong-key-0123456789"
    error, _ = failing_chat(fake, key=wrong)

    assert "API key not valid" in str(error) and error.retryable is False
    assert wrong not in str(error)

    fake.queue(*GENERATE, gemini_error(400, "INVALID_ARGUMENT", f"bad key {KEY}"))
    error, _ = failing_chat(fake)

    assert KEY not in str(error) and "[redacted]" in str(error)


@pytest.mark.parametrize(("chunks", "message", "received"), [
    ([{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}}],
     r"the prompt was blocked \(SAFETY\)", []),
    ([gemini_chunk("Once upon"), gemini_chunk(finish="SAFETY", answer_tokens=2)],
     r"the answer was blocked \(finishReason SAFETY\)", ["Once upon"]),
    ([gemini_chunk(finish="PROHIBITED_CONTENT")], "blocked", []),
])
def test_a_blocked_prompt_or_answer_is_final(fake, chunks, message, received):
    fake.state["chunks"] = chunks

    error, got = failing_chat(fake)

    assert got == received
    assert error.retryable is False
    assert re.search(message, str(error))


@pytest.mark.parametrize(("status", "retryable"), [("UNAVAILABLE", True), ("INVALID_ARGUMENT", False)])
def test_an_error_event_in_the_stream(fake, status, retryable):
    fake.state["chunks"] = [gemini_chunk("Hel"), {"error": {"code": 503 if retryable else 400,
                                                            "message": "Something broke", "status": status}}]

    error, received = failing_chat(fake)

    assert received == ["Hel"]
    assert error.retryable is retryable
    assert f"error in the chat stream: {status}: Something broke" in str(error)


def test_a_stream_ending_without_a_finish_reason_is_retryable(fake):
    fake.state["chunks"] = [gemini_chunk("Hel"), gemini_chunk("lo")]

    error, received = failing_chat(fake)

    assert received == ["Hel", "lo"]
    assert error.retryable is True and "ended without a finishReason" in str(error)


def test_a_stream_cut_midway_is_retryable(fake):
    fake.state["cut_after"] = 1

    error, received = failing_chat(fake)

    assert received == ["Hel"]
    assert error.retryable is True
    assert "while reading the reply to POST /v1beta/models/gemini-test-flash:streamGenerateContent" in str(error)
    assert len(fake.received(*GENERATE)) == 1


def test_closing_the_stream_early_closes_the_connection(fake):
    fake.state["delay"] = 0.2

    async def scenario() -> tuple[str | ChatUsage, bool]:
        provider = GeminiChat(make_settings(), connection(fake))
        try:
            stream = provider.stream_chat(model="gemini-test-flash", messages=HI)
            first = await anext(stream)
            await stream.aclose()
            gone = await asyncio.to_thread(fake.state["abandoned"].wait, 3)
            return first, gone
        finally:
            await provider.aclose()

    assert asyncio.run(scenario()) == ("Hel", True)
    assert not fake.state["finished"].is_set()


def test_thoughts_several_parts_and_a_usage_only_last_chunk(fake):
    thought = {"candidates": [{"content": {"parts": [{"text": "Let me think", "thought": True}],
                                           "role": "model"}, "index": 0}],
               "usageMetadata": {"promptTokenCount": 9, "thoughtsTokenCount": 40}}
    two_parts = {"candidates": [{"content": {"parts": [{"text": "a"}, {"text": "b\u2028é"}], "role": "model"},
                                 "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "thoughtsTokenCount": 40}}
    usage_only = {"usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "thoughtsTokenCount": 40,
                                    "totalTokenCount": 53}}
    fake.state["chunks"] = [thought, two_parts, usage_only]

    assert chat(fake) == ["ab\u2028é", ChatUsage(input_tokens=9, output_tokens=44)]


def test_max_tokens_is_a_finish(fake):
    fake.state["chunks"] = [gemini_chunk("cut sh", finish="MAX_TOKENS", answer_tokens=2)]

    assert chat(fake) == ["cut sh", ChatUsage(input_tokens=9, output_tokens=2)]


@pytest.mark.parametrize(("data", "message"), [
    ("data: {broken\r\n\r\n", "malformed JSON in the chat stream"),
    ('data: "text"\r\n\r\n', "not a JSON object"),
    ('data: {"candidates": {"0": 1}}\r\n\r\n', "malformed 'candidates' list"),
])
def test_malformed_chunks(fake, data, message):
    fake.queue(*GENERATE, Reply(body=data.encode(), headers={"content-type": "text/event-stream"}))

    error, _ = failing_chat(fake)

    assert message in str(error) and error.retryable is False


def test_list_models_follows_the_pages_and_keeps_chat_models(fake):
    models = asyncio.run(_list(fake))

    assert models == [UpstreamModel("gemini-test-flash", "Gemini Test Flash", frozenset({"chat"})),
                      UpstreamModel("gemini-test-pro", "Gemini Test Pro", frozenset({"chat"})),
                      UpstreamModel("gemini-test-lite", "Gemini Test Lite", frozenset({"chat"}))]
    calls = fake.received("GET", "/v1beta/models")
    assert [c.query for c in calls] == [{"pageSize": "100"}, {"pageSize": "100", "pageToken": "fake-token-2"},
                                        {"pageSize": "100", "pageToken": "fake-token-4"}]
    assert all(c.headers["x-goog-api-key"] == KEY for c in calls)


def test_without_a_key_it_is_unavailable(fake):
    provider = GeminiChat(make_settings(), connection(fake, key=None))
    assert provider.unavailable_reason() == "the connection 'google' has no API key"

    with pytest.raises(ProviderUnavailable):
        chat(fake, key=None)
    assert fake.requests == []


@pytest.mark.parametrize("base_url", ["", "https://generativelanguage.googleapis.com/",
                                      "https://generativelanguage.googleapis.com/v1beta"])
def test_the_default_base_url(fake, base_url):
    provider = GeminiChat(make_settings(), connection(fake, base_url=base_url))

    assert provider._http.base_url == DEFAULT_BASE_URL
    asyncio.run(provider.aclose())
