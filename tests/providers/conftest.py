"""Fixtures for the provider adapter tests: one fake server per provider for the session
(stopped at the end, also on failure), reset before every test that uses it; a fake
GenerationContext; settings with small timeouts; what the tests of every streaming chat
adapter share (its fake per module, a chat, a failing chat)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from studio.config import Settings
from studio.providers.base import ChatMessage, ChatUsage, Connection, GenerationTask, ProviderError
from tests.providers.fakes import (
    FakeComfyUI,
    FakeElevenLabs,
    FakeOpenAI,
    FakeReplicate,
    FakeServer,
)


class FakeContext:
    """The worker's side of a generation: records what the provider reports. A test
    cancels with `cancel = True`, or by `cancel_above` (the first progress report above
    it cancels); `webhook()` announces a webhook the way the worker's NOTIFY does."""

    def __init__(self, workdir: Path, cancel_above: int | None = None) -> None:
        self.workdir = workdir
        self.progress_reports: list[int] = []
        self.provider_jobs: list[str] = []
        self.cancel = False
        self.cancel_above = cancel_above
        self.webhook_waits: list[bool] = []  # one per wait: True when a webhook ended it
        self._webhook: asyncio.Event | None = None

    async def progress(self, percent: int) -> None:
        self.progress_reports.append(percent)
        if self.cancel_above is not None and percent > self.cancel_above:
            self.cancel = True

    async def provider_job(self, provider_job_id: str) -> None:
        self.provider_jobs.append(provider_job_id)

    def cancelled(self) -> bool:
        return self.cancel

    def webhook(self) -> None:
        self._event().set()

    async def webhook_arrived(self, timeout: float) -> bool:
        event = self._event()
        try:
            await asyncio.wait_for(event.wait(), timeout)
            arrived = True
        except TimeoutError:
            arrived = False
        event.clear()
        self.webhook_waits.append(arrived)
        return arrived

    def _event(self) -> asyncio.Event:
        if self._webhook is None:  # created on the loop of the test's asyncio.run
            self._webhook = asyncio.Event()
        return self._webhook


def make_settings(**overrides: Any) -> Settings:
    """Small timeouts and nothing from the environment or a .env file: every provider
    setting is explicit, so a developer's own STUDIO_* variables cannot leak in."""
    values: dict[str, Any] = {
        "env": "test", "provider_timeout": 2.0, "provider_max_retries": 2,
        "openai_base_url": None, "openai_api_key": None,
        "replicate_api_token": None, "replicate_poll_seconds": 0.02, "replicate_poll_seconds_with_webhook": 0.02,
        "replicate_max_wait_seconds": 5.0,
        "elevenlabs_api_key": None, "comfyui_base_url": None, "comfyui_max_wait_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_task(type: str = "image", provider_model: str = "model-1", prompt: str = "a red fox",
              **kwargs: Any) -> GenerationTask:
    return GenerationTask(generation_id=uuid.uuid4(), type=type, provider_model=provider_model,  # type: ignore[arg-type]
                          prompt=prompt, **kwargs)


@pytest.fixture
def context(tmp_path: Path) -> FakeContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return FakeContext(workdir)


def serve_fake(fake: FakeServer) -> Iterator[FakeServer]:
    """Serves a fake until the generator is closed (also on failure)."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeServer]:
    yield from serve_fake(FakeOpenAI())


@pytest.fixture(scope="session")
def _replicate_server() -> Iterator[FakeServer]:
    yield from serve_fake(FakeReplicate())


@pytest.fixture(scope="session")
def _cdn_server() -> Iterator[FakeServer]:
    yield from serve_fake(FakeReplicate())  # another origin serving the same /files


@pytest.fixture(scope="session")
def _elevenlabs_server() -> Iterator[FakeServer]:
    yield from serve_fake(FakeElevenLabs())


@pytest.fixture(scope="session")
def _comfyui_server() -> Iterator[FakeServer]:
    yield from serve_fake(FakeComfyUI())


@pytest.fixture
def openai_fake(_openai_server: FakeOpenAI) -> FakeOpenAI:
    _openai_server.reset()
    return _openai_server


@pytest.fixture
def replicate_fake(_replicate_server: FakeReplicate) -> FakeReplicate:
    _replicate_server.reset()
    return _replicate_server


@pytest.fixture
def cdn_fake(_cdn_server: FakeReplicate) -> FakeReplicate:
    _cdn_server.reset()
    return _cdn_server


@pytest.fixture
def elevenlabs_fake(_elevenlabs_server: FakeElevenLabs) -> FakeElevenLabs:
    _elevenlabs_server.reset()
    return _elevenlabs_server


@pytest.fixture
def comfyui_fake(_comfyui_server: FakeComfyUI) -> FakeComfyUI:
    _comfyui_server.reset()
    return _comfyui_server


def build(adapter: Any, settings: Settings, kind: str | None = None) -> Any:
    """An adapter on the connection the settings describe (as the environment would seed it)."""
    from studio.providers.registry import environment_connection

    return adapter(settings, environment_connection(settings, kind or adapter.name))


# --------------------------------------------------------------------------- chat adapters

HI = [ChatMessage("user", "hi")]


def fake_per_module(fake_class: type[FakeServer]) -> tuple[Any, Any]:
    """The two fixtures of a module that tests one vendor, bound in the module as
    `_fake_server, fake = fake_per_module(FakeX)`: its fake server, started once for the
    module (stopped at its end, also on failure), and `fake`, that server reset for each test."""

    @pytest.fixture(scope="module", name="_fake_server")
    def server() -> Iterator[FakeServer]:
        yield from serve_fake(fake_class())

    @pytest.fixture(name="fake")
    def fake(_fake_server: FakeServer) -> FakeServer:
        _fake_server.reset()
        return _fake_server

    return server, fake


class ChatHelpers(NamedTuple):
    connection: Callable[..., Connection]
    chat: Callable[..., list[str | ChatUsage]]
    failing_chat: Callable[..., tuple[ProviderError, list[str | ChatUsage]]]


def chat_helpers(adapter: Callable[[Settings, Connection], Any], *, name: str, kind: str, default_model: str,
                 default_key: str | None) -> ChatHelpers:
    """A streaming chat adapter's helpers, bound in its test module as
    `connection, chat, failing_chat = chat_helpers(...)`:
    `connection(fake, key=, base_url=)` is a connection to the fake (or to `base_url`);
    `chat(fake, messages, params, model=, **connection)` is every piece a whole chat yields;
    `failing_chat(fake, model=, **connection)` is the error a chat ends with, and what arrived
    before it. Each chat runs on its own adapter, closed afterwards."""

    def connection(fake: FakeServer, *, key: str | None = default_key, base_url: str | None = None) -> Connection:
        return Connection(id=uuid.uuid4(), name=name, kind=kind,
                          base_url=fake.url if base_url is None else base_url, api_key=key)

    def chat(fake: FakeServer, messages: Sequence[ChatMessage] = HI, params: dict[str, Any] | None = None,
             *, model: str = default_model, **conn: Any) -> list[str | ChatUsage]:
        async def scenario() -> list[str | ChatUsage]:
            provider = adapter(make_settings(), connection(fake, **conn))
            try:
                return [piece async for piece in provider.stream_chat(model=model, messages=messages, params=params)]
            finally:
                await provider.aclose()

        return asyncio.run(scenario())

    def failing_chat(fake: FakeServer, *, model: str = default_model,
                     **conn: Any) -> tuple[ProviderError, list[str | ChatUsage]]:
        received: list[str | ChatUsage] = []

        async def scenario() -> None:
            provider = adapter(make_settings(), connection(fake, **conn))
            try:
                async for piece in provider.stream_chat(model=model, messages=HI):
                    received.append(piece)
            finally:
                await provider.aclose()

        with pytest.raises(ProviderError) as info:
            asyncio.run(scenario())
        return info.value, received

    return ChatHelpers(connection, chat, failing_chat)
