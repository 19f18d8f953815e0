"""Which provider serves which `model_registry.provider` name, built from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from studio.config import Settings
from studio.providers.base import ChatProvider, Provider


@dataclass(frozen=True)
class Providers:
    """The providers of this process, media and chat, by name."""

    media: dict[str, Provider]
    chat: dict[str, ChatProvider]

    def unavailable_reason(self, provider: str, model_type: str) -> str | None:
        """None when a model of `model_type` served by `provider` can run here; else why
        not, in words a user can act on. The one answer to that question, for the model
        list, new generations and chats, and the worker."""
        found: Provider | ChatProvider | None = (self.chat if model_type == "chat" else self.media).get(provider)
        if found is None:
            return f"no {'chat ' if model_type == 'chat' else ''}provider named {provider!r} is installed"
        return found.unavailable_reason()

    async def aclose(self) -> None:
        for provider in self.media.values():
            await provider.aclose()
        for chat in self.chat.values():
            await chat.aclose()


def build_providers(settings: Settings) -> dict[str, Provider]:
    from studio.providers.comfyui import ComfyUI
    from studio.providers.elevenlabs import ElevenLabs
    from studio.providers.espeak import EspeakTTS
    from studio.providers.ffmpeg import FfmpegVideo
    from studio.providers.openai_compat import OpenAICompatible
    from studio.providers.replicate import Replicate

    providers: list[Provider] = [EspeakTTS(settings), FfmpegVideo(settings), OpenAICompatible(settings),
                                 Replicate(settings, webhook_url=settings.replicate_webhook_url),
                                 ElevenLabs(settings), ComfyUI(settings)]
    return {p.name: p for p in providers}


def build_chat_providers(settings: Settings) -> dict[str, ChatProvider]:
    from studio.providers.openai_compat import OpenAIChat

    chat = OpenAIChat(settings)
    return {chat.name: chat}


def build(settings: Settings) -> Providers:
    return Providers(build_providers(settings), build_chat_providers(settings))
