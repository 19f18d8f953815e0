"""Which provider serves which `model_registry.provider` name, built from Settings."""

from __future__ import annotations

from studio.config import Settings
from studio.providers.base import ChatProvider, Provider


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
