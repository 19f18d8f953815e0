"""Which adapter runs which model, in this process.

Two sorts of provider: the local ones (espeak-ng, ffmpeg), built in and needing nothing,
and the connection kinds, one adapter per connection an admin added
(public.provider_connections). A model names its provider (the adapter) and, for a
connection kind, the connection it runs on. `Providers` holds the adapters of the
current connections; catalog/runtime.py replaces them when the connections change
(within seconds, by NOTIFY), so no process restarts for a new key or URL.

A local provider's model runs on a worker, which may be another host than the API's:
in the API, such a model is usable when this host has the provider's software or a
live worker offers it (`fleet`, kept up to date the same way), and its jobs require
the provider of the worker that claims them (`requirement`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from studio.config import Settings
from studio.providers.base import ChatProvider, Connection, Provider

log = logging.getLogger("studio.providers")

ADMIN_HINT = "an admin adds one on the Connections page (/admin/connections; docs/providers.md)"
# Said wherever a person meets an installation with no usable model of a kind.
SETUP_HINT = ("No model? An admin adds a provider connection (OpenAI-compatible, Anthropic, Gemini, Ollama, ...) "
              "and imports its models on the Connections page, /admin/connections; docs/providers.md explains it.")


@dataclass(frozen=True)
class Kind:
    """A connection kind: the vendor protocol an adapter speaks."""

    name: str
    label: str
    default_base_url: str
    key: Literal["required", "optional"]
    chat: Callable[[Settings, Connection], ChatProvider] | None
    media: Callable[[Settings, Connection], Provider] | None
    media_types: frozenset[str] = frozenset()
    # How its upstream models are listed, for discovery; None when it cannot.
    lists_models: bool = True


def _kinds() -> dict[str, Kind]:
    from studio.providers.anthropic import AnthropicChat
    from studio.providers.comfyui import ComfyUI
    from studio.providers.elevenlabs import ElevenLabs
    from studio.providers.gemini import GeminiChat
    from studio.providers.ollama import OllamaChat
    from studio.providers.openai_compat import OpenAIChat, OpenAICompatible
    from studio.providers.replicate import Replicate

    kinds = [
        Kind("openai", "OpenAI-compatible (OpenAI, Groq, DeepSeek, OpenRouter, xAI, Mistral, Together, vLLM, "
             "llama.cpp, LM Studio)", "https://api.openai.com/v1", "optional", OpenAIChat, OpenAICompatible,
             OpenAICompatible.media_types),
        Kind("anthropic", "Anthropic", "https://api.anthropic.com", "required", AnthropicChat, None),
        Kind("gemini", "Google Gemini", "https://generativelanguage.googleapis.com", "required", GeminiChat, None),
        Kind("ollama", "Ollama", "http://127.0.0.1:11434", "optional", OllamaChat, None),
        Kind("replicate", "Replicate", "https://api.replicate.com/v1", "required", None, Replicate,
             Replicate.media_types, lists_models=False),
        Kind("elevenlabs", "ElevenLabs", "https://api.elevenlabs.io", "required", None, ElevenLabs,
             ElevenLabs.media_types, lists_models=False),
        Kind("comfyui", "ComfyUI", "http://127.0.0.1:8188", "optional", None, ComfyUI, ComfyUI.media_types,
             lists_models=False),
    ]
    return {k.name: k for k in kinds}


KINDS: dict[str, Kind] = _kinds()
LOCAL_PROVIDERS = frozenset({"espeak", "ffmpeg", "diffusers"})


@dataclass(frozen=True)
class ConnectionState:
    """A connection as the catalog stores it, with its key decrypted (or why not)."""

    connection: Connection
    enabled: bool
    problem: str | None = None   # e.g. the key cannot be decrypted here


@dataclass
class _Live:
    state: ConnectionState
    chat: ChatProvider | None
    media: Provider | None

    async def aclose(self) -> None:
        for adapter in (self.chat, self.media):
            if adapter is not None:
                await adapter.aclose()


class Providers:
    """The providers of this process: the local ones, and one adapter set per connection."""

    # Replaced adapters may still be streaming an answer: they are closed this much later.
    retire_after = 600.0

    def __init__(self, settings: Settings, local: Mapping[str, Provider] | None = None) -> None:
        self.settings = settings
        self.local: dict[str, Provider] = dict(local if local is not None else build_local(settings))
        self._live: dict[UUID, _Live] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self.loaded = False   # the connections were read at least once
        # The local providers live workers offer (public.fleet_capabilities); read by the
        # API only: a worker answers for its own install.
        self.fleet: frozenset[str] = frozenset()

    # -- keeping up with the catalog --------------------------------------------------------

    def use(self, states: list[ConnectionState]) -> None:
        """Run exactly these connections from now on: adapters of unchanged connections
        stay (their HTTP pools with them); changed and removed ones are retired."""
        fresh: dict[UUID, _Live] = {}
        for state in states:
            current = self._live.pop(state.connection.id, None)
            if current is not None and current.state == state:
                fresh[state.connection.id] = current
                continue
            if current is not None:
                self._retire(current)
            fresh[state.connection.id] = self._build(state)
        for gone in self._live.values():
            self._retire(gone)
        self._live = fresh
        self.loaded = True

    def _build(self, state: ConnectionState) -> _Live:
        kind = KINDS.get(state.connection.kind)
        if kind is None or not state.enabled or state.problem:
            return _Live(state, None, None)
        return _Live(state, kind.chat(self.settings, state.connection) if kind.chat else None,
                     kind.media(self.settings, state.connection) if kind.media else None)

    def _retire(self, live: _Live) -> None:
        async def later() -> None:
            await asyncio.sleep(self.retire_after)
            await live.aclose()

        try:
            task = asyncio.get_running_loop().create_task(later())
        except RuntimeError:  # no loop (a test building providers by hand): nothing in flight
            return
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # -- what runs a model -----------------------------------------------------------------

    def unavailable_reason(self, model: Mapping[str, Any]) -> str | None:
        """None when `model` (a model_registry row: provider, type, connection_id) can run
        here; else why not, in words a user can act on. The one answer to that question,
        for the model list, new generations and chats, and the worker."""
        return self._resolve(model)[1]

    def requirement(self, model: Mapping[str, Any]) -> str | None:
        """The capability a worker needs to run `model`'s jobs (jobs.requires): the local
        provider's name, since not every worker host has its software; None for a model
        any worker runs (a connection's: it is an HTTP call)."""
        return model["provider"] if model["provider"] in LOCAL_PROVIDERS else None

    def chat(self, model: Mapping[str, Any]) -> ChatProvider | None:
        adapter, reason = self._resolve(model)
        return adapter if reason is None and isinstance(adapter, ChatProvider) else None

    def media(self, model: Mapping[str, Any]) -> Provider | None:
        adapter, reason = self._resolve(model)
        return adapter if reason is None and isinstance(adapter, Provider) else None

    def connection_problem(self, connection_id: UUID) -> str | None:
        """None when this process can use the connection; else why not."""
        live = self._live.get(connection_id)
        if live is None:
            return "this process has not loaded it yet"
        return _connection_problem(live)

    def connection_chat(self, connection_id: UUID) -> tuple[ChatProvider | None, str | None]:
        """The chat adapter of one connection (discovery and the connection test)."""
        live = self._live.get(connection_id)
        if live is None:
            return None, "this process does not know the connection yet"
        if reason := _connection_problem(live):
            return None, reason
        return live.chat, None

    def connection_media(self, connection_id: UUID) -> Provider | None:
        """The media adapter of one connection (the connection test), if it has one."""
        live = self._live.get(connection_id)
        return live.media if live is not None and _connection_problem(live) is None else None

    def _resolve(self, model: Mapping[str, Any]) -> tuple[ChatProvider | Provider | None, str | None]:
        provider, type_ = model["provider"], model["type"]
        if provider in LOCAL_PROVIDERS:
            local = self.local.get(provider)
            if local is None or type_ == "chat":
                return None, f"the local provider {provider!r} cannot run {type_} models"
            reason = local.unavailable_reason()
            if reason is not None and provider in self.fleet:
                reason = None   # not here, but a worker has it, and its jobs go there
            return local, reason
        kind = KINDS.get(provider)
        if kind is None:
            return None, f"no provider named {provider!r} is installed"
        connection_id = model.get("connection_id")
        if connection_id is None:
            return None, f"this model has no connection: {ADMIN_HINT}"
        live = self._live.get(connection_id)
        if live is None:
            return None, ("its connection is not loaded yet; try again in a few seconds" if not self.loaded
                          else f"its connection was removed: {ADMIN_HINT}")
        if reason := _connection_problem(live):
            return None, reason
        adapter: ChatProvider | Provider | None = live.chat if type_ == "chat" else live.media
        if adapter is None or (type_ != "chat" and type_ not in kind.media_types):
            return None, f"a {kind.label.split(' (')[0]} connection cannot run {type_} models"
        return adapter, adapter.unavailable_reason()

    async def aclose(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        for live in self._live.values():
            await live.aclose()
        self._live = {}
        for provider in self.local.values():
            await provider.aclose()


def _connection_problem(live: _Live) -> str | None:
    name = live.state.connection.name
    if not live.state.enabled:
        return f"its connection {name!r} is disabled"
    if live.state.problem:
        return f"its connection {name!r} cannot be used: {live.state.problem}"
    return None


def build_local(settings: Settings) -> dict[str, Provider]:
    from studio.providers.diffusers_local import DiffusersLocal
    from studio.providers.espeak import EspeakTTS
    from studio.providers.ffmpeg import FfmpegVideo

    local: list[Provider] = [EspeakTTS(settings), FfmpegVideo(settings), DiffusersLocal(settings)]
    return {p.name: p for p in local}


def build(settings: Settings) -> Providers:
    return Providers(settings)


@dataclass(frozen=True)
class SeedConnection:
    """A connection the environment describes (STUDIO_OPENAI_BASE_URL, ...), added on the
    first start that sees it (catalog/service.py)."""

    name: str
    kind: str
    base_url: str
    api_key: str | None = None


def connections_from_environment(settings: Settings) -> list[SeedConnection]:
    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None and value.get_secret_value() else None

    seeds = []
    if settings.openai_base_url:
        seeds.append(SeedConnection("openai", "openai", settings.openai_base_url, secret(settings.openai_api_key)))
    if token := secret(settings.replicate_api_token):
        seeds.append(SeedConnection("replicate", "replicate", settings.replicate_base_url, token))
    if key := secret(settings.elevenlabs_api_key):
        seeds.append(SeedConnection("elevenlabs", "elevenlabs", settings.elevenlabs_base_url, key))
    if settings.comfyui_base_url:
        seeds.append(SeedConnection("comfyui", "comfyui", settings.comfyui_base_url))
    return seeds


def environment_connection(settings: Settings, kind: str) -> Connection:
    """The environment's connection of `kind` as an adapter takes it (tests, scripts)."""
    import uuid

    seed = next((s for s in connections_from_environment(settings) if s.kind == kind), None)
    if seed is None:
        return Connection(uuid.uuid4(), kind, kind, KINDS[kind].default_base_url, None)
    return Connection(uuid.uuid4(), seed.name, seed.kind, seed.base_url, seed.api_key)
