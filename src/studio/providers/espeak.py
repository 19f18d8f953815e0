"""Local text-to-speech with espeak-ng: offline, fast, robotic but dependable.

The prompt goes to espeak-ng through a file in the workdir (`-f`), never on the command
line, so a prompt such as "--help" is spoken rather than read as an option. WAV comes
straight from espeak-ng; OGG is that WAV converted by ffmpeg (Vorbis, else Opus).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from studio.config import Settings

from .base import GenerationContext, GenerationTask, MediaOutput, Provider, ProviderError, ProviderUnavailable
from .ffmpeg import (
    clean_message,
    failure,
    ffmpeg_capabilities,
    param_int,
    run_process,
    task_timeout,
)

VOICE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]+)*$")
DEFAULT_VOICE = "en-us"
MAX_PROMPT_CHARS = 100_000
NOT_INSTALLED = "espeak-ng is not installed (apt-get install espeak-ng)"
# Preferred OGG encoders, best first: (encoder, extra arguments).
OGG_ENCODERS = (("libvorbis", ["-q:a", "4"]), ("libopus", ["-b:a", "64k"]))


class EspeakTTS(Provider):
    """Text to speech. Params: voice (default the model's provider_model, e.g. "en-us";
    one of `espeak-ng --voices`), speed (words/min, 80-450; 175), pitch (0-99; 50),
    format ("wav" or "ogg"), timeout_seconds."""

    name: ClassVar[str] = "espeak"
    media_types: ClassVar[frozenset[str]] = frozenset({"audio"})

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._voices: frozenset[str] | None = None
        self._voices_lock = asyncio.Lock()

    @staticmethod
    def _binary() -> str | None:
        return shutil.which("espeak-ng")

    def unavailable_reason(self) -> str | None:
        return None if self._binary() else NOT_INSTALLED

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if task.type not in self.media_types:
            raise ProviderError(f"espeak makes audio, not {task.type}", retryable=False)
        espeak = self._binary()
        if espeak is None:
            raise ProviderUnavailable(NOT_INSTALLED, retryable=False)
        params: Mapping[str, Any] = task.params or {}

        # Validate everything cheap before any process starts.
        voice = params.get("voice") or task.provider_model or DEFAULT_VOICE
        if not isinstance(voice, str) or not VOICE_PATTERN.match(voice):
            raise ProviderError("voice must look like 'en' or 'en-us'", retryable=False)
        speed = param_int(params, "speed", 175, 80, 450)
        pitch = param_int(params, "pitch", 50, 0, 99)
        fmt = params.get("format") or "wav"
        if fmt not in ("wav", "ogg"):
            raise ProviderError("format must be 'wav' or 'ogg'", retryable=False)
        text = (task.prompt or "").replace("\x00", "")
        if not text.strip():
            raise ProviderError("prompt is empty: nothing to say", retryable=False)
        if len(text) > MAX_PROMPT_CHARS:
            raise ProviderError(f"prompt is longer than {MAX_PROMPT_CHARS} characters", retryable=False)
        timeout = task_timeout(params, self.settings)
        ffmpeg = None
        encoder: tuple[str, list[str]] | None = None
        if fmt == "ogg":
            ffmpeg = shutil.which("ffmpeg")
            if ffmpeg is None:
                raise ProviderUnavailable("format 'ogg' needs ffmpeg (apt-get install ffmpeg)", retryable=False)
            encoders = (await asyncio.to_thread(ffmpeg_capabilities, ffmpeg)).encoders
            encoder = next((e for e in OGG_ENCODERS if e[0] in encoders), None)
            if encoder is None:
                raise ProviderUnavailable("format 'ogg' needs an ffmpeg with libvorbis or libopus",
                                          retryable=False)

        await context.progress(0)
        workdir = Path(context.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if voice not in await self._known_voices(espeak, context, workdir):
            raise ProviderError(f"unknown espeak-ng voice '{voice}'", retryable=False)

        text_path = workdir / "speech.txt"
        text_path.write_text(text, encoding="utf-8")
        wav_path = workdir / "speech.wav"
        wav_path.unlink(missing_ok=True)
        # Every path is absolute, so none can pass for an option; -b 1: the file is UTF-8.
        argv = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-b", "1",
                "-w", str(wav_path), "-f", str(text_path)]
        result = await run_process(argv, tool="espeak-ng", context=context, timeout=timeout)
        if result.returncode != 0:
            raise failure("espeak-ng", result, workdir)
        if not wav_path.is_file() or wav_path.stat().st_size <= 44:  # a bare WAV header: no speech
            detail = clean_message(result.stderr, workdir)
            raise ProviderError("espeak-ng produced no audio" + (f": {detail}" if detail else ""),
                                retryable=False)
        if fmt == "wav":
            await context.progress(100)
            return [MediaOutput(path=wav_path, content_type="audio/wav")]

        assert ffmpeg is not None and encoder is not None
        await context.progress(60)
        ogg_path = workdir / "speech.ogg"
        codec, extra = encoder
        argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats",
                "-i", "file:" + str(wav_path), "-vn", "-c:a", codec, *extra,
                "-f", "ogg", "file:" + str(ogg_path)]
        result = await run_process(argv, tool="ffmpeg", context=context, timeout=timeout)
        if result.returncode != 0:
            raise failure("ffmpeg", result, workdir)
        if not ogg_path.is_file() or ogg_path.stat().st_size == 0:
            raise ProviderError("ffmpeg produced no audio", retryable=False)
        wav_path.unlink(missing_ok=True)
        await context.progress(100)
        return [MediaOutput(path=ogg_path, content_type="audio/ogg")]

    async def _known_voices(self, espeak: str, context: GenerationContext, workdir: Path) -> frozenset[str]:
        """Voice names from `espeak-ng --voices` (the Language column and the short
        names in "Other Languages", e.g. "en"); read once per provider instance."""
        async with self._voices_lock:
            if self._voices is not None:
                return self._voices
            lines: list[str] = []

            async def collect(line: str) -> None:
                if len(lines) < 10_000:
                    lines.append(line)

            result = await run_process([espeak, "--voices"], tool="espeak-ng", context=context,
                                       timeout=min(30.0, self.settings.provider_timeout),
                                       on_stdout_line=collect)
            if result.returncode != 0:
                raise ProviderError("could not list espeak-ng voices: "
                                    + (clean_message(result.stderr, workdir) or f"exit code {result.returncode}"),
                                    retryable=True)
            voices: set[str] = set()
            for line in lines[1:]:  # the first line is the header
                fields = line.split()
                if len(fields) >= 2:
                    voices.add(fields[1].lower())
                voices.update(alias.lower() for alias in re.findall(r"\(([A-Za-z0-9-]+) \d+\)", line))
            if not voices:
                raise ProviderError("espeak-ng lists no voices", retryable=True)
            self._voices = frozenset(voices)
            return self._voices
