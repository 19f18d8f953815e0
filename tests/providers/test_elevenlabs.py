"""ElevenLabs text-to-speech against a fake API streaming MP3."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import pytest

from studio.providers.base import MediaOutput, ProviderError
from studio.providers.elevenlabs import ElevenLabs
from tests.providers.conftest import FakeContext, build, make_settings, make_task
from tests.providers.fakes import KEY, MP3, FakeElevenLabs, Reply

SPEECH = ("POST", "/v1/text-to-speech/{voice_id}")


def generate(fake: FakeElevenLabs, context: FakeContext, task, **overrides: Any) -> list[MediaOutput]:
    settings = make_settings(**{"elevenlabs_base_url": fake.url, "elevenlabs_api_key": KEY, **overrides})

    async def scenario() -> list[MediaOutput]:
        provider = build(ElevenLabs, settings)
        try:
            return await provider.generate(task, context)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def test_speech_is_streamed_to_an_mp3(elevenlabs_fake, context):
    task = make_task("audio", "eleven_multilingual_v2", "Hello there",
                     params={"stability": 0.4, "speed": 1.1},
                     model_config={"voice_id": "21m00Tcm4TlvDq8ikWAM", "voice_settings": {"stability": 0.9,
                                                                                          "style": 0.2}})

    [output] = generate(elevenlabs_fake, context, task)

    assert (output.path.name, output.content_type) == ("speech.mp3", "audio/mpeg")
    assert output.path.read_bytes() == MP3
    [call] = elevenlabs_fake.received(*SPEECH)
    assert call.path == "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"
    assert call.headers["xi-api-key"] == KEY and "authorization" not in call.headers
    assert call.headers["accept"] == "audio/mpeg"
    assert call.json() == {"text": "Hello there", "model_id": "eleven_multilingual_v2",
                           "voice_settings": {"stability": 0.4, "style": 0.2, "speed": 1.1}}


def test_params_voice_wins_and_is_one_path_segment(elevenlabs_fake, context):
    task = make_task("audio", params={"voice": "my voice?x#y"}, model_config={"voice_id": "configured"})

    generate(elevenlabs_fake, context, task)

    [call] = elevenlabs_fake.received(*SPEECH)
    assert unquote(call.path) == "/v1/text-to-speech/my voice?x#y" and call.query == {}  # quoted, not a query
    assert "voice_settings" not in call.json()


def test_no_voice_or_other_format_is_refused_before_any_request(elevenlabs_fake, context):
    with pytest.raises(ProviderError, match="no voice") as info:
        generate(elevenlabs_fake, context, make_task("audio"))
    assert info.value.retryable is False
    with pytest.raises(ProviderError, match="mp3 only"):
        generate(elevenlabs_fake, context, make_task("audio", params={"voice": "v", "format": "wav"}))
    assert elevenlabs_fake.requests == []


def test_error_detail_is_surfaced(elevenlabs_fake, context):
    elevenlabs_fake.queue(*SPEECH, Reply(422, json={"detail": {"status": "voice_not_found",
                                                               "message": "A voice with that ID does not exist."}}))

    with pytest.raises(ProviderError, match=r"HTTP 422 .*does not exist") as info:
        generate(elevenlabs_fake, context, make_task("audio", params={"voice": "nope"}))

    assert info.value.retryable is False


def test_json_instead_of_audio_is_malformed(elevenlabs_fake, context):
    elevenlabs_fake.queue(*SPEECH, Reply(json={"audio_base64": "..."}))

    with pytest.raises(ProviderError, match="expected audio/") as info:
        generate(elevenlabs_fake, context, make_task("audio", params={"voice": "v"}))

    assert info.value.retryable is False
    assert list(context.workdir.iterdir()) == []


def test_empty_audio_is_an_error(elevenlabs_fake, context):
    elevenlabs_fake.queue(*SPEECH, Reply(body=b"", headers={"content-type": "audio/mpeg"}))

    with pytest.raises(ProviderError, match="empty reply"):
        generate(elevenlabs_fake, context, make_task("audio", params={"voice": "v"}))


def test_output_over_the_size_cap_is_refused(elevenlabs_fake, context):
    with pytest.raises(ProviderError, match="exceeds 1000 bytes") as info:
        generate(elevenlabs_fake, context, make_task("audio", params={"voice": "v"}), max_result_bytes=1000)

    assert info.value.retryable is False
    assert list(context.workdir.iterdir()) == []
