"""Local video composition with ffmpeg: images, an audio track and/or the prompt as a
title card, encoded to an H.264 MP4 of an exact duration.

Also home of the small subprocess toolkit the local providers share (espeak.py uses it
too): run a binary from an argument list (never a shell) with a timeout, a bounded
stderr tail, cancellation and progress lines; probe media with ffprobe; validate params.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import subprocess
import textwrap
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from studio.config import Settings

from .base import GenerationContext, GenerationTask, MediaOutput, Provider, ProviderError, ProviderUnavailable

# --------------------------------------------------------------------------- helpers

POLL_SECONDS = 0.05          # how often a running process is checked for cancel/timeout
TERMINATE_GRACE_SECONDS = 2.0
MAX_TIMEOUT_SECONDS = 3600.0
STDERR_TAIL_LINES = 6
MAX_MESSAGE_CHARS = 400

# Any absolute path: keep only its last component, so messages never show where things
# live on this machine (the workdir is private to the task anyway).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])(?:file:)?/(?:[^\s/'\"<>|]+/)+")
HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6})$")
_CONTEXT_POINTER = re.compile(r"\[([\w,.-]+) @ 0x[0-9a-fA-F]+\] ")


def clean_message(text: str, *known_dirs: Path) -> str:
    """A short, single-paragraph message with directories removed from paths."""
    for directory in known_dirs:
        text = text.replace(str(directory) + "/", "")
    text = _ABSOLUTE_PATH.sub("", text)
    text = _CONTEXT_POINTER.sub(r"\1: ", text)  # "[png @ 0x55e7...] x" -> "png: x"
    text = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    if len(text) > MAX_MESSAGE_CHARS:
        text = "..." + text[-MAX_MESSAGE_CHARS:]
    return text


def param_number(params: Mapping[str, Any], name: str, default: float, low: float, high: float, *,
                 integer: bool = False) -> float:
    """A numeric param within [low, high]; bad values are a non-retryable ProviderError."""
    value = params.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderError(f"{name} must be a number", retryable=False)
    if integer and value != int(value):
        raise ProviderError(f"{name} must be a whole number", retryable=False)
    if not low <= value <= high:
        raise ProviderError(f"{name} must be between {_fmt(low)} and {_fmt(high)} (got {_fmt(value)})",
                            retryable=False)
    return int(value) if integer else float(value)


def param_int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    return int(param_number(params, name, default, low, high, integer=True))


def task_timeout(params: Mapping[str, Any], settings: Settings, default: float | None = None) -> float:
    """The subprocess timeout: `default` (settings.provider_timeout unless given), or the
    task's own params.timeout_seconds, which may not exceed max(1 h, provider_timeout)."""
    default = settings.provider_timeout if default is None else default
    ceiling = max(MAX_TIMEOUT_SECONDS, settings.provider_timeout)
    return param_number(params, "timeout_seconds", min(default, ceiling), 1, ceiling)


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    stderr: str      # the last few lines only


async def run_process(argv: Sequence[str], *, tool: str, context: GenerationContext, timeout: float,
                      cwd: Path | None = None,
                      on_stdout_line: Callable[[str], Awaitable[None]] | None = None) -> ProcessResult:
    """Run one binary from an argument list (no shell), without stdin.

    While it runs: stdout lines go to `on_stdout_line`, stderr keeps its last lines, and
    every POLL_SECONDS the cancel flag and the deadline are checked. Cancellation and
    timeouts terminate the process (SIGTERM, then SIGKILL after a grace period) and raise
    ProviderError (retryable for timeouts only). The process never outlives this call.
    """
    if context.cancelled():
        raise ProviderError("cancelled", retryable=False)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=str(cwd) if cwd is not None else None)
    except FileNotFoundError:
        raise ProviderUnavailable(f"{tool} is not installed", retryable=False) from None
    except OSError as exc:
        raise ProviderError(f"could not start {tool}: {exc.strerror or exc}", retryable=True) from None

    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    async def read_lines(stream: asyncio.StreamReader, sink: Callable[[str], Awaitable[None]]) -> None:
        pending = b""
        while chunk := await stream.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            pending = pending[-65536:]  # a line without end must not grow without bound
            for line in lines:
                await sink(line.decode("utf-8", "replace").rstrip("\r"))
        if pending:
            await sink(pending.decode("utf-8", "replace"))

    async def keep_stderr(line: str) -> None:
        if line.strip():
            tail.append(line.strip())

    async def ignore(_line: str) -> None:
        return None

    assert proc.stdout is not None and proc.stderr is not None
    readers = [asyncio.create_task(read_lines(proc.stderr, keep_stderr)),
               asyncio.create_task(read_lines(proc.stdout, on_stdout_line or ignore))]
    waiter = asyncio.create_task(proc.wait())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not waiter.done():
            running = {waiter, *(reader for reader in readers if not reader.done())}
            await asyncio.wait(running, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            for reader in readers:
                if reader.done() and not reader.cancelled() and reader.exception() is not None:
                    raise reader.exception()  # type: ignore[misc]  # e.g. the progress callback failed
            if context.cancelled():
                raise ProviderError("cancelled", retryable=False)
            if loop.time() > deadline and not waiter.done():
                raise ProviderError(f"{tool} timed out after {_fmt(round(timeout, 1))} s", retryable=True)
        # The process has exited: its pipes are closed, so the readers finish promptly.
        await asyncio.wait_for(asyncio.gather(*readers), timeout=5)
    finally:
        await _stop(proc, waiter)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return ProcessResult(proc.returncode if proc.returncode is not None else -1, "\n".join(tail))


async def _stop(proc: asyncio.subprocess.Process, waiter: asyncio.Task[int]) -> None:
    if proc.returncode is not None:
        return
    try:
        proc.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), TERMINATE_GRACE_SECONDS)
        except TimeoutError:
            proc.kill()
            await waiter
    except ProcessLookupError:
        pass


def failure(tool: str, result: ProcessResult, *dirs: Path) -> ProviderError:
    """A failed run: bad input as far as we can tell (not retryable), unless the process
    was killed by a signal we did not send (e.g. the OOM killer), which may pass later."""
    detail = clean_message(result.stderr, *dirs) or "no error output"
    if result.returncode < 0:
        return ProviderError(f"{tool} was killed by signal {-result.returncode}: {detail}", retryable=True)
    return ProviderError(f"{tool} failed (exit code {result.returncode}): {detail}", retryable=False)


@dataclass(frozen=True)
class FfmpegCapabilities:
    filters: frozenset[str]
    encoders: frozenset[str]
    colors: Mapping[str, str]   # lower-case name -> RRGGBB, from `ffmpeg -colors`


_capabilities: dict[str, FfmpegCapabilities] = {}


def ffmpeg_capabilities(ffmpeg: str) -> FfmpegCapabilities:
    """Filters, encoders and color names of this ffmpeg build (three quick runs; cached
    per binary once the lists could be read)."""
    if ffmpeg not in _capabilities:
        found = _read_capabilities(ffmpeg)
        if not (found.filters and found.encoders):
            return found
        _capabilities[ffmpeg] = found
    return _capabilities[ffmpeg]


def _read_capabilities(ffmpeg: str) -> FfmpegCapabilities:
    def listing(option: str) -> list[list[str]]:
        try:
            out = subprocess.run([ffmpeg, "-hide_banner", option], capture_output=True, text=True,
                                 timeout=20, check=False, stdin=subprocess.DEVNULL).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [line.split() for line in out.splitlines()]

    def names(option: str) -> frozenset[str]:
        # " T.C drawtext  V->V  ..." / " V....D libx264  ...": flags, then the name
        return frozenset(fields[1] for fields in listing(option) if len(fields) >= 2 and fields[0] != "=")

    colors = {fields[0].lower(): fields[1].lstrip("#").upper() for fields in listing("-colors")
              if len(fields) == 2 and HEX_COLOR.match(fields[1])}
    return FfmpegCapabilities(filters=names("-filters"), encoders=names("-encoders"), colors=colors)


@dataclass(frozen=True)
class MediaInfo:
    kind: str                   # "image", "audio" or "other"
    duration: float | None      # seconds, when known
    description: str            # format/codecs, for messages


IMAGE_CODECS = frozenset({"png", "mjpeg", "jpegls", "jpeg2000", "webp", "bmp", "tiff", "gif", "qoi",
                          "ppm", "pgm", "pbm", "pam", "targa", "sgi", "photocd"})


async def probe_media(ffprobe: str, path: Path, *, context: GenerationContext, timeout: float,
                      workdir: Path) -> MediaInfo:
    """What a file is, by its content (never by its name)."""
    argv = [ffprobe, "-v", "error", "-of", "json",
            "-show_entries",
            "format=format_name,duration:stream=codec_type,codec_name,duration:stream_disposition=attached_pic",
            "file:" + str(path.resolve())]
    lines: list[str] = []

    async def collect(line: str) -> None:
        if sum(map(len, lines)) < 1_000_000:
            lines.append(line)

    result = await run_process(argv, tool="ffprobe", context=context, timeout=timeout, on_stdout_line=collect)
    if result.returncode != 0:
        detail = clean_message(result.stderr, workdir, path.parent) or "unreadable"
        return MediaInfo("other", None, detail)
    try:
        data = json.loads("\n".join(lines))
    except ValueError:
        return MediaInfo("other", None, "unreadable")
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    format_name = str(fmt.get("format_name", "?"))
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    video = [s for s in streams if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    codecs = ",".join(str(s.get("codec_name", "?")) for s in streams) or "no streams"
    description = f"{format_name}: {codecs}"
    if audio and not video:
        return MediaInfo("audio", _seconds(fmt.get("duration")) or _seconds(audio[0].get("duration")), description)
    if video and not audio and len(video) == 1 and (
            video[0].get("codec_name") in IMAGE_CODECS
            and (format_name.endswith("_pipe") or format_name in ("image2", "gif"))):
        return MediaInfo("image", None, description)
    return MediaInfo("other", _seconds(fmt.get("duration")), description)


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def param_color(params: Mapping[str, Any], name: str, default: str, known: Mapping[str, str]) -> str:
    """A color as #rrggbb or one of ffmpeg's color names, returned as 0xRRGGBB (so only
    hex digits ever reach a filtergraph)."""
    value = params.get(name) or default
    if isinstance(value, str):
        match = HEX_COLOR.match(value)
        if match is not None:
            return "0x" + match.group(1).upper()
        if re.fullmatch(r"[a-z]{3,20}", value) and value in known:
            return "0x" + known[value]
    raise ProviderError(f"{name} must be a color such as #1e293b or navy", retryable=False)


# --------------------------------------------------------------------------- provider

MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 0.5, 600.0, 5.0
MAX_IMAGES = 100
MAX_PROMPT_CHARS = 5000
# Rough width of an average glyph of the default sans font, as a fraction of its size.
GLYPH_WIDTH = 0.58
LINE_HEIGHT = 1.3
TEXT_COLOR = "0xF8FAFC"


@dataclass(frozen=True)
class _Plan:
    duration: float
    width: int
    height: int
    fps: int
    frames: int
    images: list[Path]
    audio: Path | None


class FfmpegVideo(Provider):
    """Composes an MP4 (H.264, yuv420p, +faststart) from images, an audio track and the
    prompt as text. Params: duration_seconds (0.5-600; default the audio's duration, else
    5), width/height (even, 64-1920; 640x360), fps (1-60; 25), background (#rrggbb or a
    color name; a dark slate), timeout_seconds. Images are shown in turn for equal times,
    letterboxed; without images the background is a plain color. The prompt is drawn
    centered on the background, or as a caption over the images. The audio is padded
    with silence or cut to the duration exactly; the video is exact to the frame (_plan)."""

    name: ClassVar[str] = "ffmpeg"
    media_types: ClassVar[frozenset[str]] = frozenset({"video"})

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def _binaries() -> tuple[str | None, str | None]:
        return shutil.which("ffmpeg"), shutil.which("ffprobe")

    def unavailable_reason(self) -> str | None:
        ffmpeg, ffprobe = self._binaries()
        if ffmpeg is None or ffprobe is None:
            return "ffmpeg is not installed (apt-get install ffmpeg)"
        if "libx264" not in ffmpeg_capabilities(ffmpeg).encoders:
            return "this ffmpeg has no libx264 encoder (install Debian's ffmpeg)"
        return None

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if task.type not in self.media_types:
            raise ProviderError(f"ffmpeg makes videos, not {task.type}", retryable=False)
        ffmpeg, ffprobe = self._binaries()
        if ffmpeg is None or ffprobe is None:
            raise ProviderUnavailable("ffmpeg is not installed (apt-get install ffmpeg)", retryable=False)
        caps = await asyncio.to_thread(ffmpeg_capabilities, ffmpeg)
        if "libx264" not in caps.encoders:
            raise ProviderUnavailable("this ffmpeg has no libx264 encoder", retryable=False)

        params = task.params or {}
        workdir = Path(context.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        # Cheap checks first: bad params fail before any process starts.
        width = param_int(params, "width", 640, 64, 1920)
        height = param_int(params, "height", 360, 64, 1920)
        if width % 2 or height % 2:
            raise ProviderError("width and height must be even numbers", retryable=False)
        fps = param_int(params, "fps", 25, 1, 60)
        if params.get("duration_seconds") is not None:
            param_number(params, "duration_seconds", DEFAULT_DURATION, MIN_DURATION, MAX_DURATION)
        task_timeout(params, self.settings)  # only validates timeout_seconds here
        background = param_color(params, "background", "#1e293b", caps.colors)
        prompt = _printable(task.prompt or "")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ProviderError(f"prompt is longer than {MAX_PROMPT_CHARS} characters", retryable=False)
        if len(task.inputs) > MAX_IMAGES + 1:
            raise ProviderError(f"too many inputs (at most {MAX_IMAGES} images and one audio file)",
                                retryable=False)

        await context.progress(0)
        probe_timeout = min(30.0, self.settings.provider_timeout)
        plan = await self._plan(task, params, context, ffprobe, workdir, width, height, fps, probe_timeout)
        if not plan.images and not plan.audio and not prompt.strip():
            raise ProviderError("nothing to compose: give a prompt, images or an audio file", retryable=False)

        # Text goes through a file (textfile=, expansion=none): the prompt never becomes
        # part of the filtergraph, so no escaping is needed and '%{...}' stays literal.
        # Without drawtext (ffmpeg built without libfreetype) the video is the plain
        # background or the images, without the text.
        text_file = None
        if prompt.strip() and "drawtext" in caps.filters:
            text_file = "prompt.txt"
            layout = _caption_layout(prompt, width, height) if plan.images else _title_layout(prompt, width, height)
            (workdir / text_file).write_text(layout[0], encoding="utf-8")
        else:
            layout = None

        argv, out_path = self._command(ffmpeg, plan, workdir, background, text_file, layout)
        total_us = plan.duration * 1_000_000
        reported = 0

        async def on_progress(line: str) -> None:
            nonlocal reported
            key, _, value = line.partition("=")
            if key not in ("out_time_us", "out_time_ms"):  # both are microseconds
                return
            try:
                done_us = int(value)
            except ValueError:
                return
            percent = max(0, min(99, int(done_us * 100 / total_us)))
            if percent > reported:
                reported = percent
                await context.progress(percent)

        # Encoding cost grows with pixels x frames; the base timeout covers a 720p30
        # minute, longer or larger videos get proportionally more, within the ceiling.
        work = (width * height * fps * plan.duration) / (1280 * 720 * 30 * 60)
        default_timeout = min(max(MAX_TIMEOUT_SECONDS, self.settings.provider_timeout),
                              self.settings.provider_timeout * max(1.0, work))
        timeout = task_timeout(params, self.settings, default_timeout)
        out_path.unlink(missing_ok=True)
        result = await run_process(argv, tool="ffmpeg", context=context, timeout=timeout, cwd=workdir,
                                   on_stdout_line=on_progress)
        if result.returncode != 0:
            raise failure("ffmpeg", result, workdir, *{p.parent for p in task.inputs})
        if not out_path.is_file() or out_path.stat().st_size == 0:
            raise ProviderError("ffmpeg produced no video", retryable=False)
        # Check the result lasts what was asked (e.g. an input that decoded to nothing).
        info = await probe_media(ffprobe, out_path, context=context, timeout=probe_timeout, workdir=workdir)
        expected = max(plan.frames / plan.fps, plan.duration if plan.audio is not None else 0.0)
        if info.duration is None or abs(info.duration - expected) > 1 / plan.fps + 0.1:
            got = "unknown" if info.duration is None else f"{info.duration:.2f} s"
            raise ProviderError(f"ffmpeg produced a video of {got} instead of {expected:.2f} s", retryable=False)
        await context.progress(100)
        return [MediaOutput(path=out_path, content_type="video/mp4")]

    async def _plan(self, task: GenerationTask, params: Mapping[str, Any], context: GenerationContext,
                    ffprobe: str, workdir: Path, width: int, height: int, fps: int,
                    probe_timeout: float) -> _Plan:
        images: list[Path] = []
        audio: Path | None = None
        audio_duration: float | None = None
        for number, raw in enumerate(task.inputs, start=1):
            path = Path(raw).resolve()
            if not path.is_file():
                raise ProviderError(f"input {number} ({path.name}) is missing", retryable=False)
            info = await probe_media(ffprobe, path, context=context, timeout=probe_timeout, workdir=workdir)
            if info.kind == "image":
                images.append(path)
            elif info.kind == "audio":
                if audio is not None:
                    raise ProviderError("only one audio input is supported", retryable=False)
                audio, audio_duration = path, info.duration
            else:
                raise ProviderError(f"input {number} ({path.name}) is not an image or audio file "
                                    f"({info.description})", retryable=False)
        if len(images) > MAX_IMAGES:
            raise ProviderError(f"too many images (at most {MAX_IMAGES})", retryable=False)

        if params.get("duration_seconds") is not None:
            duration = param_number(params, "duration_seconds", DEFAULT_DURATION, MIN_DURATION, MAX_DURATION)
        elif audio is not None:
            if not audio_duration:
                raise ProviderError("the audio's duration is unknown: give duration_seconds", retryable=False)
            if audio_duration > MAX_DURATION:
                raise ProviderError(f"the audio is longer than {_fmt(MAX_DURATION)} s: give duration_seconds "
                                    "to cut it", retryable=False)
            duration = max(MIN_DURATION, audio_duration)
        else:
            duration = DEFAULT_DURATION
        # A video lasts a whole number of frames: the nearest one to the duration, or,
        # with audio (which is cut exactly), the most that fit, so that the file (as
        # long as its longest stream) lasts exactly the duration.
        frames = max(1, math.floor(duration * fps + (1e-6 if audio is not None else 0.5)))
        if len(images) > frames:
            raise ProviderError(f"{len(images)} images do not fit in {frames} frames: "
                                "raise duration_seconds or fps", retryable=False)
        return _Plan(duration, width, height, fps, frames, images, audio)

    def _command(self, ffmpeg: str, plan: _Plan, workdir: Path, background: str, text_file: str | None,
                 layout: tuple[str, int, int, bool] | None) -> tuple[list[str], Path]:
        w, h, fps = plan.width, plan.height, plan.fps
        argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats",
                "-progress", "pipe:1", "-stats_period", "0.1"]
        graph: list[str] = []
        if plan.images:
            # Each image is decoded once, letterboxed, repeated for its share of the
            # frames and retimed; then all are concatenated. A broken image yields no
            # frame, and ffmpeg fails instead of waiting for one.
            count = len(plan.images)
            shares = [plan.frames // count + (1 if i < plan.frames % count else 0) for i in range(count)]
            for index, (image, share) in enumerate(zip(plan.images, shares, strict=True)):
                argv += ["-i", "file:" + str(image)]
                graph.append(
                    f"[{index}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,"
                    f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color={background},setsar=1,format=yuv420p,"
                    f"loop=loop=-1:size=1:start=0,trim=end_frame={share},setpts=N/({fps}*TB)[img{index}]")
            graph.append("".join(f"[img{i}]" for i in range(count)) + f"concat=n={count}:v=1:a=0[base]")
        else:
            graph.append(f"color=c={background}:s={w}x{h}:r={fps}:d={plan.frames / fps:.6f},"
                         f"format=yuv420p,trim=end_frame={plan.frames}[base]")

        if text_file is not None and layout is not None:
            _, font_size, line_spacing, caption = layout
            position = ("x=(w-text_w)/2:y=h-text_h-(h/20):box=1:boxcolor=black@0.55:boxborderw=10"
                        if caption else "x=(w-text_w)/2:y=(h-text_h)/2")
            graph.append(f"[base]drawtext=textfile={text_file}:expansion=none:fontsize={font_size}:"
                         f"line_spacing={line_spacing}:fontcolor={TEXT_COLOR}:{position},"
                         "format=yuv420p[v]")
        else:
            graph.append("[base]null[v]")

        maps = ["-map", "[v]"]
        if plan.audio is not None:
            audio_index = len(plan.images)
            argv += ["-i", "file:" + str(plan.audio)]
            graph.append(f"[{audio_index}:a]aresample=48000,apad,atrim=end={plan.duration:.6f},"
                         "asetpts=PTS-STARTPTS[a]")
            maps += ["-map", "[a]"]

        out_path = workdir / "video.mp4"
        argv += ["-filter_complex", ";".join(graph), *maps,
                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                 "-r", str(fps)]
        if plan.audio is not None:
            argv += ["-c:a", "aac", "-b:a", "160k"]
        argv += ["-movflags", "+faststart", "-f", "mp4", "file:" + str(out_path)]
        return argv, out_path


def _printable(text: str) -> str:
    """Tabs become spaces, other control characters go (drawtext shows them as boxes)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return "".join(ch for ch in text if ch == "\n" or ch.isprintable())


def _wrap(text: str, columns: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.strip().split("\n"):
        lines += textwrap.wrap(paragraph, width=max(4, columns), break_long_words=True) or [""]
    return lines


def _fit(text: str, width: int, height: int, start: int, minimum: int,
         max_lines: int | None) -> tuple[str, int, int]:
    """Font size and wrapped lines so the text fits the box; truncated with an ellipsis
    when even the smallest size is too big."""
    size = max(start, minimum)
    while True:
        columns = int(width / (size * GLYPH_WIDTH))
        lines = _wrap(text, columns)
        room = max(1, int(height / (size * LINE_HEIGHT)))
        if max_lines is not None:
            room = min(room, max_lines)
        if len(lines) <= room or size <= minimum:
            break
        size = max(minimum, int(size * 0.9))
    if len(lines) > room:
        lines = lines[:room]
        lines[-1] = lines[-1][: max(1, columns - 1)].rstrip() + "…"
    return "\n".join(lines), size, int(size * (LINE_HEIGHT - 1))


def _title_layout(prompt: str, width: int, height: int) -> tuple[str, int, int, bool]:
    text, size, spacing = _fit(prompt, int(width * 0.9), int(height * 0.85), max(12, height // 9),
                               max(8, height // 40), None)
    return text, size, spacing, False


def _caption_layout(prompt: str, width: int, height: int) -> tuple[str, int, int, bool]:
    text, size, spacing = _fit(prompt, int(width * 0.9), int(height * 0.3), max(10, height // 16),
                               max(8, height // 40), 3)
    return text, size, spacing, True
