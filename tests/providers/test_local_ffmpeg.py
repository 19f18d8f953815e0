"""FfmpegVideo against the real ffmpeg/ffprobe: no mocks. Inputs are made with ffmpeg's
own test sources (testsrc images, a sine tone)."""

from __future__ import annotations

import asyncio
import itertools
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
from studio.providers.ffmpeg import FfmpegVideo
from tests.providers.conftest import FakeContext

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                reason="ffmpeg and ffprobe are needed")


def make_task(prompt: str = "", inputs: tuple[Path, ...] = (), **params) -> GenerationTask:
    return GenerationTask(generation_id=uuid.uuid4(), type="video", provider_model="compose", prompt=prompt,
                          params=params, inputs=inputs)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def streams(info: dict, kind: str) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def make_media(path: Path, *lavfi_then_args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", *lavfi_then_args, str(path)],
                   check=True)
    return path


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
def provider() -> FfmpegVideo:
    return FfmpegVideo(Settings(_env_file=None, provider_timeout=30))


@pytest.fixture
def context(tmp_path: Path) -> FakeContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return FakeContext(workdir)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    return {
        "landscape": make_media(folder / "landscape.png", "testsrc=size=320x240", "-frames:v", "1"),
        "portrait": make_media(folder / "portrait.jpg", "testsrc2=size=200x400", "-frames:v", "1"),
        "tone": make_media(folder / "tone.wav", "sine=frequency=440:duration=1.7"),
        "notes": _write(folder / "notes.txt", "just some text, not media\n"),
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_describes_itself(provider):
    assert provider.name == "ffmpeg"
    assert provider.media_types == frozenset({"video"})
    assert provider.unavailable_reason() is None


def test_text_only_video_has_the_exact_duration_and_format(provider, context):
    prompt = "A title card: 100% literal %{localtime} text, with 'quotes', commas; and \\ backslashes"
    outputs = asyncio.run(provider.generate(make_task(prompt, duration_seconds=3.0), context))
    assert len(outputs) == 1
    output = outputs[0]
    assert output.content_type == "video/mp4"
    assert output.path.parent == context.workdir.resolve()
    info = ffprobe(output.path)
    assert abs(float(info["format"]["duration"]) - 3.0) <= 0.05
    (video,) = streams(info, "video")
    assert streams(info, "audio") == []
    assert (video["codec_name"], video["width"], video["height"], video["pix_fmt"]) == ("h264", 640, 360, "yuv420p")
    assert info["format"]["format_name"].startswith("mov,mp4")
    head = output.path.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart


def test_progress_increases_and_ends_at_100(provider, context):
    asyncio.run(provider.generate(make_task("progress", duration_seconds=3.0), context))
    values = context.progress_reports
    assert values[0] == 0 and values[-1] == 100
    assert len(values) >= 3  # at least one report from ffmpeg's -progress output
    assert all(a < b for a, b in itertools.pairwise(values))


def test_image_and_audio_take_the_audio_duration(provider, context, media):
    task = make_task("a caption over the image", inputs=(media["landscape"], media["tone"]))
    output = asyncio.run(provider.generate(task, context))[0]
    info = ffprobe(output.path)
    (video,) = streams(info, "video")
    (audio,) = streams(info, "audio")
    assert video["codec_name"] == "h264" and (video["width"], video["height"]) == (640, 360)
    assert abs(float(audio["duration"]) - 1.7) <= 0.1
    assert abs(float(info["format"]["duration"]) - 1.7) <= 0.1


def test_audio_is_padded_to_a_longer_duration(provider, context, media):
    task = make_task("", inputs=(media["tone"],), duration_seconds=2.5, width=320, height=180, fps=10)
    info = ffprobe(asyncio.run(provider.generate(task, context))[0].path)
    (audio,) = streams(info, "audio")
    (video,) = streams(info, "video")
    assert abs(float(audio["duration"]) - 2.5) <= 0.05
    assert (video["width"], video["height"]) == (320, 180)
    assert abs(float(info["format"]["duration"]) - 2.5) <= 0.05


def test_two_images_fill_the_requested_duration(provider, context, media):
    task = make_task("", inputs=(media["landscape"], media["portrait"]), duration_seconds=4)
    info = ffprobe(asyncio.run(provider.generate(task, context))[0].path)
    assert abs(float(info["format"]["duration"]) - 4.0) <= 0.05
    (video,) = streams(info, "video")
    assert int(video["nb_frames"]) == 100  # 4 s at the default 25 fps
    assert context.progress_reports[-1] == 100


@pytest.mark.parametrize(("background", "rgb"), [("red", (255, 0, 0)), ("#0000ff", (0, 0, 255))])
def test_background_color_and_default_duration(provider, context, background, rgb):
    output = asyncio.run(provider.generate(make_task("colors", background=background), context))[0]
    assert abs(float(ffprobe(output.path)["format"]["duration"]) - 5.0) <= 0.05  # the default
    corner = subprocess.run(["ffmpeg", "-v", "error", "-i", str(output.path), "-frames:v", "1", "-vf", "crop=4:4:0:0",
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    assert all(abs(got - want) <= 24 for got, want in zip(corner[:3], rgb, strict=True))


@pytest.mark.parametrize("params", [{"width": 641}, {"height": 359}, {"width": 62}, {"width": 1922},
                                    {"fps": 0}, {"fps": 61}, {"duration_seconds": 0.4},
                                    {"duration_seconds": 601}, {"duration_seconds": "long"},
                                    {"background": "red; drawtext"}, {"background": "notacolor"},
                                    {"timeout_seconds": -1}])
def test_bad_params_are_rejected(provider, context, params):
    with pytest.raises(ProviderError) as raised:
        asyncio.run(provider.generate(make_task("hi", **params), context))
    assert raised.value.retryable is False
    assert context.progress_reports == []


def test_odd_width_message(provider, context):
    with pytest.raises(ProviderError, match="even"):
        asyncio.run(provider.generate(make_task("hi", width=333), context))


def test_non_media_input_is_rejected(provider, context, media):
    with pytest.raises(ProviderError, match=r"input 1 \(notes.txt\) is not an image or audio file") as raised:
        asyncio.run(provider.generate(make_task("hi", inputs=(media["notes"],)), context))
    assert raised.value.retryable is False
    assert str(media["notes"].parent) not in str(raised.value)


def test_broken_image_fails_with_a_short_message(provider, context, media, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(media["landscape"].read_bytes()[:200])
    with pytest.raises(ProviderError) as raised:
        asyncio.run(provider.generate(make_task("", inputs=(broken,), duration_seconds=1), context))
    message = str(raised.value)
    # Not a timeout (those are retryable): ffmpeg's own refusal, reported at once.
    assert raised.value.retryable is False
    assert str(tmp_path) not in message and len(message) < 600


def test_nothing_to_compose(provider, context):
    with pytest.raises(ProviderError, match="nothing to compose"):
        asyncio.run(provider.generate(make_task("   "), context))


def test_cancellation_terminates_ffmpeg(provider, context):
    # A 10-minute video takes far longer to encode than this test waits.
    task = make_task("a long video", duration_seconds=600)
    workdir = str(context.workdir)

    def cancel_once_encoding() -> None:
        deadline = time.monotonic() + 10
        while not processes_mentioning(workdir) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        context.cancel = True

    canceller = threading.Thread(target=cancel_once_encoding, daemon=True)
    canceller.start()
    with pytest.raises(ProviderError, match="cancelled") as raised:
        asyncio.run(provider.generate(task, context))
    canceller.join()
    assert raised.value.retryable is False
    assert context.progress_reports[-1] < 100
    assert processes_mentioning(workdir) == []


def test_timeout_is_retryable(provider, context):
    task = make_task("too slow", duration_seconds=600, timeout_seconds=1)
    with pytest.raises(ProviderError, match="timed out") as raised:
        asyncio.run(provider.generate(task, context))
    assert raised.value.retryable is True
    assert processes_mentioning(str(context.workdir)) == []
