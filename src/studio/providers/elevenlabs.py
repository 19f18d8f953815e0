"""ElevenLabs text-to-speech: POST /v1/text-to-speech/{voice_id}, MP3 streamed to a file."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from studio.config import Settings
from studio.providers.base import (
    Connection,
    GenerationContext,
    GenerationTask,
    MediaOutput,
    Provider,
    ProviderError,
    ProviderUnavailable,
)
from studio.providers.http import ProviderHTTP

# Generation params that ElevenLabs takes as voice_settings.
VOICE_SETTINGS = ("stability", "similarity_boost", "speed", "style", "use_speaker_boost")


class ElevenLabs(Provider):
    name: ClassVar[str] = "elevenlabs"
    media_types: ClassVar[frozenset[str]] = frozenset({"audio"})

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self._settings = settings
        self._key = connection.api_key
        self._http = ProviderHTTP("elevenlabs", settings, base_url=connection.base_url,
                                  auth_headers={"xi-api-key": self._key} if self._key else None)

    def unavailable_reason(self) -> str | None:
        return None if self._key else "its connection has no API key: add one on the admin's Connections page"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(self) -> str | None:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        reply = await self._http.json("GET", self._http.url("v1/voices"))
        voices = reply.get("voices") if isinstance(reply, dict) else None
        if not isinstance(voices, list):
            raise ProviderError("elevenlabs: GET /v1/voices did not answer with a voice list")
        return f"connected: the account has {len(voices)} voices"

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        if task.type != "audio":
            raise ProviderError(f"elevenlabs: cannot generate {task.type}")
        voice = task.params.get("voice") or task.model_config.get("voice_id")
        if not isinstance(voice, str) or not voice:
            raise ProviderError("elevenlabs: no voice (params.voice or model config voice_id)")
        if task.params.get("format") not in (None, "mp3"):
            raise ProviderError(f"elevenlabs: produces mp3 only, not {task.params['format']!r}")
        body: dict[str, Any] = {"text": task.prompt, "model_id": task.provider_model}
        # The model's configured voice_settings, overridden by this generation's params.
        configured = task.model_config.get("voice_settings")
        voice_settings = {**(configured if isinstance(configured, dict) else {}),
                          **{k: task.params[k] for k in VOICE_SETTINGS if task.params.get(k) is not None}}
        if voice_settings:
            body["voice_settings"] = voice_settings
        path = context.workdir / "speech.mp3"
        # quote(): a voice id is a path segment, never a path.
        url = self._http.url(f"v1/text-to-speech/{quote(voice, safe='')}")
        await self._http.to_file("POST", url, path, json=body, headers={"Accept": "audio/mpeg"},
                                 expect="audio/")
        return [MediaOutput(path=path, content_type="audio/mpeg")]
