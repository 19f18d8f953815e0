"""What every adapter owes the worker, checked against each provider's fake server:
credentials sent, 4xx final, 5xx and 429 retried within the budget, timeouts retryable
and bounded, a clear reason when not configured, and the API key in no error or log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from studio.config import Settings
from studio.providers.base import (
    ChatMessage,
    ChatProvider,
    GenerationTask,
    Provider,
    ProviderError,
    ProviderUnavailable,
)
from studio.providers.comfyui import ComfyUI
from studio.providers.elevenlabs import ElevenLabs
from studio.providers.openai_compat import OpenAIChat, OpenAICompatible
from studio.providers.replicate import Replicate
from tests.providers.conftest import FakeContext, build, make_settings, make_task
from tests.providers.fakes import KEY, FakeServer, Reply

WORKFLOW = {"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
            "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}}}


@dataclass
class Case:
    id: str
    fake: str                                   # the fixture serving this provider
    route: tuple[str, str]                      # the call errors are injected into
    configured: Callable[[str], dict[str, Any]]  # fake URL -> settings that make it usable
    setting: str                                # in unavailable_reason() on a connection without a key; "": usable without
    build: Callable[[Settings], Provider | ChatProvider]
    task: GenerationTask | None = None          # None: a chat provider
    auth: tuple[str, str] | None = None         # the credential header it must send


CASES = [
    Case("openai-image", "openai_fake", ("POST", "/v1/images/generations"),
         lambda url: {"openai_base_url": f"{url}/v1", "openai_api_key": KEY}, "",
         OpenAICompatible, make_task("image", "gpt-image-1"), ("authorization", f"Bearer {KEY}")),
    Case("openai-speech", "openai_fake", ("POST", "/v1/audio/speech"),
         lambda url: {"openai_base_url": f"{url}/v1", "openai_api_key": KEY}, "",
         OpenAICompatible, make_task("audio", "tts-1"), ("authorization", f"Bearer {KEY}")),
    Case("openai-chat", "openai_fake", ("POST", "/v1/chat/completions"),
         lambda url: {"openai_base_url": f"{url}/v1", "openai_api_key": KEY}, "",
         OpenAIChat, None, ("authorization", f"Bearer {KEY}")),
    Case("replicate", "replicate_fake", ("POST", "/v1/predictions"),
         lambda url: {"replicate_base_url": f"{url}/v1", "replicate_api_token": KEY},
         "no API token", Replicate, make_task("image", "acme/painter:abc123"),
         ("authorization", f"Bearer {KEY}")),
    Case("elevenlabs", "elevenlabs_fake", ("POST", "/v1/text-to-speech/{voice_id}"),
         lambda url: {"elevenlabs_base_url": url, "elevenlabs_api_key": KEY}, "no API key",
         ElevenLabs, make_task("audio", "eleven_multilingual_v2", model_config={"voice_id": "voice-1"}),
         ("xi-api-key", KEY)),
    Case("comfyui", "comfyui_fake", ("POST", "/prompt"),
         lambda url: {"comfyui_base_url": url}, "",
         ComfyUI, make_task("image", "sdxl", model_config={"workflow": WORKFLOW})),
]


@pytest.fixture(params=CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def fake(case: Case, request: pytest.FixtureRequest) -> FakeServer:
    return request.getfixturevalue(case.fake)


def run(case: Case, settings: Settings, context: FakeContext) -> Any:
    """Generate (or chat) once with a fresh adapter, closing it afterwards."""
    async def scenario() -> Any:
        adapter = build(case.build, settings)
        try:
            if case.task is None:
                assert isinstance(adapter, ChatProvider)
                return [piece async for piece in
                        adapter.stream_chat(model="llama3", messages=[ChatMessage("user", "hi")])]
            assert isinstance(adapter, Provider)
            return await adapter.generate(case.task, context)
        finally:
            await adapter.aclose()

    return asyncio.run(scenario())


def failure(case: Case, settings: Settings, context: FakeContext) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(case, settings, context)
    return info.value


def configured(case: Case, fake: FakeServer, **overrides: Any) -> Settings:
    return make_settings(**case.configured(fake.url), **overrides)


def test_success_sends_the_credentials(case, fake, context):
    result = run(case, configured(case, fake), context)

    assert result
    if case.task is not None:
        for output in result:
            assert output.path.parent == context.workdir and output.path.stat().st_size > 0
    [call] = fake.received(*case.route)
    if case.auth:
        name, value = case.auth
        assert call.headers[name] == value
    else:
        assert "authorization" not in call.headers


def test_client_error_is_final(case, fake, context):
    fake.queue(*case.route, Reply(400, json={"error": {"message": "prompt rejected by policy"}}))

    error = failure(case, configured(case, fake), context)

    assert error.retryable is False
    assert str(error).startswith(f"{case.build.name}: HTTP 400")
    assert "prompt rejected by policy" in str(error)
    assert len(fake.received(*case.route)) == 1


def test_server_error_is_retried(case, fake, context, caplog):
    # The 5xx body echoes the key, as some proxies do: the retry log line must not.
    # (ComfyUI has no key: there the body is just text the log may show.)
    fake.queue(*case.route, Reply(503, json={"error": {"message": f"overloaded (key {KEY})"}}))

    assert run(case, configured(case, fake), context)

    assert len(fake.received(*case.route)) == 2
    assert "HTTP 503" in caplog.text
    if case.auth:
        assert KEY not in caplog.text


def test_rate_limit_waits_for_retry_after(case, fake, context):
    fake.queue(*case.route, Reply(429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "0.2"}))

    assert run(case, configured(case, fake), context)

    first, second = fake.received(*case.route)
    assert second.at - first.at >= 0.19


def test_persistent_server_errors_give_up_retryable(case, fake, context):
    fake.queue(*case.route, *[Reply(500, body=b"internal error")] * 3)

    error = failure(case, configured(case, fake, provider_max_retries=1), context)

    assert error.retryable is True
    assert "HTTP 500" in str(error) and "gave up after 2 attempts" in str(error)
    assert len(fake.received(*case.route)) == 2


def test_timeout_is_retryable_and_bounded(case, fake, context):
    fake.queue(*case.route, *[Reply(delay=3, json={})] * 2)

    error = failure(case, configured(case, fake, provider_timeout=0.2, provider_max_retries=1), context)

    assert error.retryable is True
    assert "no answer within 0.2s" in str(error)
    assert len(fake.received(*case.route)) == 2


@pytest.mark.parametrize("case", [c for c in CASES if c.id in ("openai-image", "replicate", "comfyui")],
                         ids=lambda case: case.id)  # the calls that answer JSON
def test_malformed_json_is_a_clear_final_error(case, fake, context):
    fake.queue(*case.route, Reply(body=b'{"id": "trunc', headers={"content-type": "application/json"}))

    error = failure(case, configured(case, fake), context)

    assert error.retryable is False
    assert str(error) == f"{case.build.name}: malformed JSON in the reply to {case.route[0]} {case.route[1]}"


@pytest.mark.parametrize("case", [c for c in CASES if c.setting], ids=lambda case: case.id)  # a key is required
def test_a_connection_without_its_key_is_unavailable(case, fake, context):
    adapter = build(case.build, make_settings())  # a connection with no key
    reason = adapter.unavailable_reason()
    asyncio.run(adapter.aclose())

    assert reason is not None and case.setting in reason
    with pytest.raises(ProviderUnavailable, match=case.setting):
        run(case, make_settings(), context)
    assert fake.requests == []


@pytest.mark.parametrize("case", [c for c in CASES if c.auth], ids=lambda case: case.id)  # ComfyUI has no key
def test_api_key_never_in_errors(case, fake, context):
    fake.queue(*case.route, Reply(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}}))

    error = failure(case, configured(case, fake), context)

    assert "HTTP 401" in str(error) and "[redacted]" in str(error)
    chain: BaseException | None = error
    while chain is not None:
        assert KEY not in str(chain) and KEY not in repr(chain)
        chain = chain.__cause__ or chain.__context__
