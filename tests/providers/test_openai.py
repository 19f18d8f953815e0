"""OpenAI-compatible images, speech and streamed chat against a fake /v1 server."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import pytest
from PIL import Image

from studio.providers.base import (
    AudioClip,
    ChatImage,
    ChatMessage,
    ChatUsage,
    MediaOutput,
    ProviderError,
    Transcriber,
    UpstreamModel,
)
from studio.providers.openai_compat import OpenAIChat, OpenAICompatible, openai_mask
from tests.providers.conftest import FakeContext, build, make_settings, make_task
from tests.providers.fakes import (
    JPEG,
    KEY,
    MP3,
    PNG,
    WAV,
    FakeOpenAI,
    Reply,
    delta,
    multipart_form,
    sse,
)

IMAGES = ("POST", "/v1/images/generations")


def settings(fake: FakeOpenAI, **overrides: Any):
    return make_settings(**{"openai_base_url": f"{fake.url}/v1", "openai_api_key": KEY, **overrides})


def generate(fake: FakeOpenAI, context: FakeContext, task, **overrides: Any) -> list[MediaOutput]:
    async def scenario() -> list[MediaOutput]:
        provider = build(OpenAICompatible, settings(fake, **overrides))
        try:
            return await provider.generate(task, context)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def chat(fake: FakeOpenAI, **overrides: Any) -> list[str]:
    async def scenario() -> list[str]:
        provider = build(OpenAIChat, settings(fake, **overrides))
        try:
            return [piece async for piece in provider.stream_chat(
                model="llama3", messages=[ChatMessage("system", "be brief"), ChatMessage("user", "hi")],
                params={"temperature": 0.2})]
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def test_image_from_base64(openai_fake, context):
    [output] = generate(openai_fake, context, make_task("image", "gpt-image-1", "a fox",
                                                        params={"size": "1024x1024", "seed": 7}))

    assert output.content_type == "image/png" and output.path.suffix == ".png"
    assert output.path.read_bytes() == PNG
    [call] = openai_fake.received(*IMAGES)
    # seed is not an OpenAI parameter: it is not forwarded (OpenAI would answer 400).
    assert call.json() == {"model": "gpt-image-1", "prompt": "a fox", "size": "1024x1024",
                           "response_format": "b64_json"}
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.headers["content-type"] == "application/json"


def test_width_and_height_become_size_and_jpeg_is_recognised(openai_fake, context):
    openai_fake.state["images"] = {"data": [{"b64_json": base64.b64encode(JPEG).decode()}]}

    [output] = generate(openai_fake, context, make_task("image", params={"width": 512, "height": 768}))

    assert (output.content_type, output.path.suffix, output.path.read_bytes()) == ("image/jpeg", ".jpg", JPEG)
    assert openai_fake.received(*IMAGES)[0].json()["size"] == "512x768"


def test_image_by_url_is_downloaded(openai_fake, context):
    outputs = generate(openai_fake, context, make_task("image", params={"n": 2},
                                                       model_config={"response_format": "url"}))

    assert [o.path.read_bytes() for o in outputs] == [PNG, PNG]
    assert [o.path.name for o in outputs] == ["image-0.png", "image-1.png"]
    assert len(openai_fake.received("GET", "/files/{name}")) == 2


def test_response_format_can_be_left_out(openai_fake, context):
    generate(openai_fake, context, make_task("image", model_config={"response_format": None}))

    assert "response_format" not in openai_fake.received(*IMAGES)[0].json()


def test_no_key_means_no_authorization_header(openai_fake, context):
    """Ollama and llama.cpp: the base URL alone makes the provider available."""
    provider = build(OpenAICompatible, make_settings(openai_base_url=f"{openai_fake.url}/v1"))
    assert provider.unavailable_reason() is None

    generate(openai_fake, context, make_task("image"), openai_api_key=None)

    assert "authorization" not in openai_fake.received(*IMAGES)[0].headers


@pytest.mark.parametrize(("reply", "message"), [
    (Reply(body=b"{not json", headers={"content-type": "application/json"}), "malformed JSON"),
    (Reply(json={"created": 1}), "no 'data' list"),
    (Reply(json=[1, 2]), "no 'data' list"),
    (Reply(json={"data": []}), "no 'data' list"),
    (Reply(json={"data": [{"revised_prompt": "x"}]}), "neither 'b64_json' nor 'url'"),
    (Reply(json={"data": ["oops"]}), "neither 'b64_json' nor 'url'"),
    (Reply(json={"data": [{"b64_json": "%%% not base64"}]}), "not valid base64"),
])
def test_malformed_image_replies(openai_fake, context, reply, message):
    openai_fake.queue(*IMAGES, reply)

    with pytest.raises(ProviderError, match=message) as info:
        generate(openai_fake, context, make_task("image"))

    assert info.value.retryable is False and str(info.value).startswith("openai: ")
    assert len(openai_fake.received(*IMAGES)) == 1


def test_speech_is_streamed_to_a_file(openai_fake, context):
    [output] = generate(openai_fake, context, make_task("audio", "tts-1", "hello there",
                                                        params={"voice": "nova", "format": "wav", "speed": 1.5,
                                                                "stability": 0.3}))

    assert (output.content_type, output.path.name) == ("audio/wav", "speech.wav")
    assert output.path.read_bytes() == WAV
    [call] = openai_fake.received("POST", "/v1/audio/speech")
    assert call.json() == {"model": "tts-1", "input": "hello there", "voice": "nova",
                           "response_format": "wav", "speed": 1.5}


def test_speech_defaults_to_mp3_and_the_configured_voice(openai_fake, context):
    [output] = generate(openai_fake, context, make_task("audio", model_config={"voice": "onyx"}))

    assert (output.content_type, output.path.suffix, output.path.read_bytes()) == ("audio/mpeg", ".mp3", MP3)
    assert openai_fake.received("POST", "/v1/audio/speech")[0].json()["voice"] == "onyx"


def test_speech_answered_with_json_is_an_error(openai_fake, context):
    openai_fake.queue("POST", "/v1/audio/speech", Reply(json={"detail": "model not loaded"}))

    with pytest.raises(ProviderError, match=r"expected audio/.*model not loaded") as info:
        generate(openai_fake, context, make_task("audio"))

    assert info.value.retryable is False
    assert list(context.workdir.iterdir()) == []  # no partial file left behind


def test_unknown_speech_format_and_video_are_refused(openai_fake, context):
    with pytest.raises(ProviderError, match="unsupported speech format"):
        generate(openai_fake, context, make_task("audio", params={"format": "midi"}))
    with pytest.raises(ProviderError, match="cannot generate video"):
        generate(openai_fake, context, make_task("video"))
    assert openai_fake.requests == []


# -- chat ----------------------------------------------------------------------------------


def test_chat_streams_deltas_in_order(openai_fake):
    assert chat(openai_fake) == ["Hel", "lo, ", "world"]

    [call] = openai_fake.received("POST", "/v1/chat/completions")
    assert call.json() == {"model": "llama3", "stream": True, "temperature": 0.2,
                           "stream_options": {"include_usage": True},
                           "messages": [{"role": "system", "content": "be brief"},
                                        {"role": "user", "content": "hi"}]}
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.headers["accept"] == "text/event-stream"


def test_chat_deltas_arrive_before_the_stream_ends(openai_fake):
    openai_fake.state["chat_delay"] = 0.1
    finished = openai_fake.state["chat_finished"]

    async def scenario() -> tuple[str, bool, list[str]]:
        provider = build(OpenAIChat, settings(openai_fake))
        try:
            stream = provider.stream_chat(model="m", messages=[ChatMessage("user", "hi")])
            first = await anext(stream)
            still_sending = not finished.is_set()
            return first, still_sending, [piece async for piece in stream]
        finally:
            await provider.aclose()

    first, still_sending, rest = asyncio.run(scenario())

    assert first == "Hel" and still_sending
    assert rest == ["lo, ", "world"]


def test_done_ends_the_stream(openai_fake):
    openai_fake.state["chat_events"] = sse(delta("only this"), "[DONE]", delta("never seen"))

    assert chat(openai_fake) == ["only this"]


def test_consecutive_chats_reuse_one_connection(openai_fake):
    """After [DONE] the end of the body is read, so the connection goes back to the pool:
    no new connection (a TCP and TLS handshake with a cloud provider) for each chat."""
    async def scenario() -> list[str]:
        provider = build(OpenAIChat, settings(openai_fake))
        try:
            for _ in range(3):
                pieces = [p async for p in provider.stream_chat(model="m", messages=[ChatMessage("user", "hi")])]
                assert pieces == ["Hel", "lo, ", "world"]
            return [connection.info() for connection in provider._http._client._transport._pool.connections]
        finally:
            await provider.aclose()

    [connection] = asyncio.run(scenario())

    assert connection.endswith("Request Count: 3"), connection


def test_event_framing_variants(openai_fake):
    """Comments, other fields, CRLF line ends, "data:" without a space, no role chunk,
    a usage-only chunk with no choices, and an event split across network chunks."""
    openai_fake.state["chat_events"] = [
        ": keep-alive\r\n\r\n",
        "event: message\r\nid: 1\r\ndata:" + '{"choices":[{"delta":{"content":"a"}}]}' + "\r\n\r\n",
        'data: {"choices":[{"delta":{"content":"b\u2028c"}}]}\n',
        "\n",
        'data: {"choices":[], "usage": {"total_tokens": 3}}\n\n',
        "data: [DONE]\n\n",
    ]

    assert chat(openai_fake) == ["a", "b\u2028c"]


def test_finish_without_done_is_accepted(openai_fake):
    """Older llama.cpp servers close the stream after the finish_reason chunk."""
    openai_fake.state["chat_events"] = sse(delta("hi"), delta(finish="stop"))

    assert chat(openai_fake) == ["hi"]


def test_a_stream_cut_midway_is_a_retryable_error(openai_fake):
    openai_fake.state["chat_cut_after"] = 2

    received: list[str] = []

    async def scenario() -> None:
        provider = build(OpenAIChat, settings(openai_fake))
        try:
            async for piece in provider.stream_chat(model="m", messages=[ChatMessage("user", "hi")]):
                received.append(piece)
        finally:
            await provider.aclose()

    with pytest.raises(ProviderError) as info:
        asyncio.run(scenario())

    assert received == ["Hel"]
    assert info.value.retryable is True
    assert "while reading the reply to POST /v1/chat/completions" in str(info.value)
    assert len(openai_fake.received("POST", "/v1/chat/completions")) == 1  # not re-sent mid-answer


def test_a_stream_ending_early_is_an_error(openai_fake):
    openai_fake.state["chat_events"] = sse(delta("partial"))

    with pytest.raises(ProviderError, match="ended before \\[DONE\\]") as info:
        chat(openai_fake)

    assert info.value.retryable is True


@pytest.mark.parametrize(("events", "message"), [
    (sse("{broken"), "malformed JSON in the chat stream"),
    (sse({"object": "chat.completion.chunk"}), "no 'choices' list"),
    (sse([1, 2]), "not a JSON object"),
    (sse({"error": {"message": "context length exceeded"}}), "context length exceeded"),
])
def test_malformed_or_failed_stream_events(openai_fake, events, message):
    openai_fake.state["chat_events"] = events

    with pytest.raises(ProviderError, match=message) as info:
        chat(openai_fake)

    assert info.value.retryable is False


def test_a_server_ignoring_stream_answers_whole(openai_fake):
    openai_fake.queue("POST", "/v1/chat/completions",
                      Reply(json={"choices": [{"message": {"role": "assistant", "content": "all at once"}}]}))

    assert chat(openai_fake) == ["all at once"]


def test_chat_reports_token_usage_after_the_text(openai_fake):
    openai_fake.state["chat_events"] = sse(
        delta("Hi"), delta(finish="stop"),
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
         "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}},
        "[DONE]")

    assert chat(openai_fake) == ["Hi", ChatUsage(input_tokens=12, output_tokens=3)]


def test_chat_sends_images_as_data_url_parts(openai_fake):
    async def scenario() -> list[Any]:
        provider = build(OpenAIChat, settings(openai_fake))
        try:
            message = ChatMessage("user", "what is this?", images=[ChatImage("image/png", PNG)])
            return [piece async for piece in provider.stream_chat(model="llava", messages=[message])]
        finally:
            await provider.aclose()

    asyncio.run(scenario())

    [call] = openai_fake.received("POST", "/v1/chat/completions")
    [text, image] = call.json()["messages"][0]["content"]
    assert text == {"type": "text", "text": "what is this?"}
    prefix = "data:image/png;base64,"
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith(prefix)
    assert base64.b64decode(image["image_url"]["url"].removeprefix(prefix)) == PNG


def test_list_models_reads_the_model_ids(openai_fake):
    openai_fake.state["models"] = ["gpt-4.1-mini", "qwen2.5:7b"]

    async def scenario() -> list[UpstreamModel]:
        provider = build(OpenAIChat, settings(openai_fake))
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    assert [m.name for m in asyncio.run(scenario())] == ["gpt-4.1-mini", "qwen2.5:7b"]
    [call] = openai_fake.received("GET", "/v1/models")
    assert call.headers["authorization"] == f"Bearer {KEY}"


def transcribe(fake: FakeOpenAI, audio: AudioClip, **overrides: Any) -> str:
    async def scenario() -> str:
        provider = build(OpenAIChat, settings(fake, **overrides))
        try:
            assert isinstance(provider, Transcriber)
            return await provider.transcribe(model="whisper-1", audio=audio, language="de", prompt="Grüße",
                                             temperature=0.2)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


TRANSCRIPTIONS = ("POST", "/v1/audio/transcriptions")


def test_transcription_sends_the_audio_as_a_multipart_form(openai_fake):
    openai_fake.state["transcript"] = "Guten Tag."

    assert transcribe(openai_fake, AudioClip(WAV, "audio.wav", "audio/wav")) == "Guten Tag."

    [call] = openai_fake.received(*TRANSCRIPTIONS)
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.headers["content-type"].startswith("multipart/form-data; boundary=")
    [form] = openai_fake.state["transcriptions"]
    assert form["file"].data == WAV  # byte for byte
    assert (form["file"].filename, form["file"].content_type) == ("audio.wav", "audio/wav")
    assert {name: form[name].text for name in ("model", "response_format", "language", "prompt", "temperature")} \
        == {"model": "whisper-1", "response_format": "json", "language": "de", "prompt": "Grüße",
            "temperature": "0.2"}


def test_transcription_is_retried_with_the_same_form(openai_fake):
    openai_fake.queue(*TRANSCRIPTIONS, Reply(503, json={"error": {"message": "overloaded"}}))

    assert transcribe(openai_fake, AudioClip(MP3, "audio.mp3", "audio/mpeg")) == "Hello from the recording."

    # Each attempt is a new form (a new boundary) holding the same file and fields.
    forms = [multipart_form(call) for call in openai_fake.received(*TRANSCRIPTIONS)]
    assert [form["file"].data for form in forms] == [MP3, MP3]
    assert [form["model"].text for form in forms] == ["whisper-1", "whisper-1"]


@pytest.mark.parametrize(("reply", "message", "retryable"), [
    (Reply(400, json={"error": {"message": f"Invalid file format. (key {KEY})"}}), "Invalid file format", False),
    (Reply(500, json={"error": {"message": "the model crashed"}}), "the model crashed", True),
    (Reply(200, json={"transcript": "no text field"}), "no 'text'", False),
    (Reply(200, body=b"plain text", headers={"content-type": "text/plain"}), "malformed JSON", False),
])
def test_transcription_failures(openai_fake, reply, message, retryable):
    openai_fake.queue(*TRANSCRIPTIONS, reply)

    with pytest.raises(ProviderError, match=message) as failed:
        transcribe(openai_fake, AudioClip(WAV, "audio.wav", "audio/wav"), provider_max_retries=0)

    assert failed.value.retryable is retryable
    assert KEY not in str(failed.value)


def test_the_mask_goes_to_openai_transparent_where_to_paint():
    # Studio's mask: white where to paint (the left half), black where to keep, grey between.
    mask = Image.new("L", (8, 4), 0)
    for x in range(4):
        for y in range(4):
            mask.putpixel((x, y), 255)
    mask.putpixel((4, 0), 128)
    buffer = io.BytesIO()
    mask.convert("RGB").save(buffer, format="PNG")

    with Image.open(io.BytesIO(openai_mask(buffer.getvalue()))) as sent:
        assert sent.format == "PNG" and sent.mode == "RGBA" and sent.size == (8, 4)
        alpha = sent.getchannel("A")
        assert {alpha.getpixel((x, y)) for x in range(4) for y in range(4)} == {0}       # paint here
        assert {alpha.getpixel((x, y)) for x in range(5, 8) for y in range(4)} == {255}  # keep
        assert alpha.getpixel((4, 0)) == 127


def test_a_mask_that_is_not_an_image_is_a_provider_error():
    with pytest.raises(ProviderError, match="the mask is not an image"):
        openai_mask(b"not a png")
