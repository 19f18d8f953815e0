"""EspeakTTS against the real espeak-ng (and ffmpeg for OGG): no mocks."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from studio.config import Settings
from studio.providers.base import GenerationTask, ProviderError
from studio.providers.espeak import EspeakTTS
from tests.providers.conftest import FakeContext

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("ffprobe") is None,
                                reason="espeak-ng and ffprobe are needed")


def make_task(prompt: str, model: str = "en-us", **params) -> GenerationTask:
    return GenerationTask(generation_id=uuid.uuid4(), type="audio", provider_model=model, prompt=prompt,
                          params=params)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (e.g. a test's workdir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def provider() -> EspeakTTS:
    return EspeakTTS(Settings(_env_file=None, provider_timeout=30))


@pytest.fixture
def context(tmp_path: Path) -> FakeContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return FakeContext(workdir)


def test_describes_itself(provider):
    assert provider.name == "espeak"
    assert provider.media_types == frozenset({"audio"})
    assert provider.unavailable_reason() is None


def test_speaks_to_wav(provider, context):
    outputs = asyncio.run(provider.generate(make_task("Hello from Studio, this is a speech test."), context))
    assert len(outputs) == 1
    output = outputs[0]
    assert output.content_type == "audio/wav"
    assert output.path.parent == context.workdir.resolve()
    info = ffprobe(output.path)
    (stream,) = info["streams"]
    assert stream["codec_type"] == "audio"
    assert stream["codec_name"].startswith("pcm_")
    assert float(info["format"]["duration"]) > 0.3
    assert context.progress_reports[0] == 0 and context.progress_reports[-1] == 100
    assert context.progress_reports == sorted(context.progress_reports)


def test_voice_speed_and_pitch_params(provider, context):
    slow = asyncio.run(provider.generate(make_task("one two three four five", voice="en-gb", speed=80, pitch=10),
                                         context))[0]
    slow_seconds = float(ffprobe(slow.path)["format"]["duration"])
    fast_ctx = FakeContext(context.workdir.parent / "fast")
    fast = asyncio.run(provider.generate(make_task("one two three four five", voice="en-gb", speed=400),
                                         fast_ctx))[0]
    assert float(ffprobe(fast.path)["format"]["duration"]) < slow_seconds


def test_ogg_is_vorbis_or_opus(provider, context):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is needed for ogg")
    output = asyncio.run(provider.generate(make_task("Compressed speech.", format="ogg"), context))[0]
    assert output.content_type == "audio/ogg"
    assert output.path.suffix == ".ogg"
    info = ffprobe(output.path)
    assert info["format"]["format_name"] == "ogg"
    assert info["streams"][0]["codec_name"] in ("vorbis", "opus")
    assert float(info["format"]["duration"]) > 0.3
    assert context.progress_reports[-1] == 100


def test_prompt_that_looks_like_options_is_spoken(provider, context, tmp_path):
    evil = tmp_path / "evil.wav"
    prompt = f"--help --version -w {evil} -v xx"
    output = asyncio.run(provider.generate(make_task(prompt), context))[0]
    # --help would print usage and write no WAV; spoken, it takes a couple of seconds.
    assert float(ffprobe(output.path)["format"]["duration"]) > 1.0
    assert not evil.exists()


@pytest.mark.parametrize("params", [{"voice": "xx-nope"}, {"voice": "en us"}, {"voice": "-w"},
                                    {"voice": "../../etc"}, {"voice": "EN-US"}, {"voice": 5}])
def test_bad_voice_is_rejected(provider, context, params):
    with pytest.raises(ProviderError) as raised:
        asyncio.run(provider.generate(make_task("hello", **params), context))
    assert raised.value.retryable is False
    assert "voice" in str(raised.value)


def test_unknown_model_voice_is_rejected(provider, context):
    with pytest.raises(ProviderError, match="unknown espeak-ng voice 'zz'"):
        asyncio.run(provider.generate(make_task("hello", model="zz"), context))


@pytest.mark.parametrize("params", [{"speed": 79}, {"speed": 451}, {"speed": "fast"}, {"speed": True},
                                    {"speed": 120.5}, {"pitch": -1}, {"pitch": 100},
                                    {"format": "mp3"}, {"timeout_seconds": 0}])
def test_out_of_range_params_are_rejected(provider, context, params):
    with pytest.raises(ProviderError) as raised:
        asyncio.run(provider.generate(make_task("hello", **params), context))
    assert raised.value.retryable is False
    assert context.progress_reports == []  # rejected before any work
    assert list(context.workdir.iterdir()) == []


def test_empty_prompt_is_rejected(provider, context):
    with pytest.raises(ProviderError, match="empty"):
        asyncio.run(provider.generate(make_task("  \n "), context))


def test_cancellation_kills_espeak(provider, context):
    long_text = "The quick brown fox jumps over the lazy dog. " * 2_200  # ~4 s of synthesis
    wav = context.workdir / "speech.wav"

    def cancel_once_speaking() -> None:
        deadline = time.monotonic() + 10
        while not wav.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        context.cancel = True

    canceller = threading.Thread(target=cancel_once_speaking, daemon=True)
    canceller.start()
    with pytest.raises(ProviderError, match="cancelled") as raised:
        asyncio.run(provider.generate(make_task(long_text), context))
    canceller.join()
    assert raised.value.retryable is False
    assert processes_mentioning(str(context.workdir)) == []


def test_timeout_is_retryable(provider, context):
    long_text = "The quick brown fox jumps over the lazy dog. " * 2_200
    with pytest.raises(ProviderError, match="timed out") as raised:
        asyncio.run(provider.generate(make_task(long_text, timeout_seconds=1), context))
    assert raised.value.retryable is True
    assert processes_mentioning(str(context.workdir)) == []
