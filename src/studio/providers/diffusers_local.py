"""Local image generation with diffusers on the worker's own device (CUDA when present,
else Apple's MPS, else the CPU): text-to-image, image-to-image and inpainting.

- Optional: it needs the `local` extra (torch, diffusers, transformers) on the workers
  that run it, not on the API host: workers offer "diffusers" when they have it, and
  its jobs go only to them (jobs.requires). With no such worker the models show as
  unavailable with the command that installs it; nothing is imported until a model
  runs, so an API host never loads torch.
- Where models come from: a directory under `models_dir` named by the model's upstream
  name (a diffusers folder: model_index.json and its parts), or a model hub name such as
  `org/name` when `local_models_from_hub` allows it and the host is online.
- Loading never executes code from the files: weights are read as safetensors only
  (`use_safetensors=True`; a folder of pickles is refused) and no custom pipeline code
  is loaded.
- One pipeline is resident per worker process and runs one task at a time; it is
  unloaded after `local_idle_seconds` without work, or when another model is asked for.
- Each denoising step reports progress; a cancellation stops the run at the next step;
  running out of memory fails the task with a sentence, and the worker goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from studio.config import Settings

from .base import GenerationContext, GenerationTask, MediaOutput, Provider, ProviderError, ProviderUnavailable

log = logging.getLogger("studio.providers.diffusers")

NOT_INSTALLED = ("local generation needs Studio's local extra on a worker, and neither this host nor a running "
                 "worker has it: install it on a worker host (pip install 'studio[local]'; docs/providers.md)")
HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
LOCAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
DEFAULT_STEPS = 30
DEFAULT_GUIDANCE = 7.5
DEFAULT_STRENGTH = 0.75


def installed() -> bool:
    """Whether the local extra is importable here (without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "diffusers", "transformers"))


def models_dir(settings: Settings) -> Path:
    return (settings.models_dir or settings.home_dir / "models").expanduser()


def model_source(settings: Settings, provider_model: str) -> str:
    """Where a model's files are: its folder under the models directory, or its model hub
    name (org/name) when hub downloads are allowed. ProviderError otherwise."""
    if LOCAL_NAME.match(provider_model):
        folder = models_dir(settings) / provider_model
        if not (folder / "model_index.json").is_file():
            raise ProviderError(f"no diffusers model named {provider_model!r} in {models_dir(settings)} "
                                "(a folder with model_index.json)", retryable=False)
        return str(folder)
    if HUB_NAME.match(provider_model):
        if not settings.local_models_from_hub:
            raise ProviderError(f"{provider_model!r} is a model hub name, and hub downloads are turned off "
                                "(STUDIO_LOCAL_MODELS_FROM_HUB); put the model in the models directory",
                                retryable=False)
        return provider_model
    raise ProviderError(f"{provider_model!r} is neither a folder name nor a hub name (org/name)", retryable=False)


def pick_device(wanted: str) -> str:
    """The torch device to run on: `wanted` (STUDIO_LOCAL_DEVICE) unless it is "auto",
    then CUDA, Apple's MPS, or the CPU. Generation and training share it."""
    if wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class _Stopped(Exception):
    """Raised inside the pipeline's step callback when the task was cancelled."""


class DiffusersLocal(Provider):
    name: ClassVar[str] = "diffusers"
    media_types: ClassVar[frozenset[str]] = frozenset({"image"})

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()     # one run (and one resident pipeline) at a time
        self._pipeline: Any = None
        self._source: str | None = None
        self._device: str | None = None
        self._idle: asyncio.TimerHandle | None = None

    def unavailable_reason(self) -> str | None:
        return None if installed() else NOT_INSTALLED

    @property
    def resident(self) -> str | None:
        """The model whose pipeline is loaded now, if any."""
        return self._source

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if task.type != "image":
            raise ProviderError(f"diffusers makes images, not {task.type}", retryable=False)
        if not installed():
            raise ProviderUnavailable(NOT_INSTALLED, retryable=False)
        request = _Request.from_task(task)
        source = model_source(self.settings, task.provider_model)
        loop = asyncio.get_running_loop()

        def report(step: int, total: int) -> None:
            percent = min(99, int(100 * (step + 1) / max(total, 1)))
            asyncio.run_coroutine_threadsafe(context.progress(percent), loop)

        async with self._lock:
            self._cancel_idle()
            try:
                pipeline = await _in_thread(self._load, source)
                image = await _in_thread(self._run, pipeline, request, report, context.cancelled)
            except _Stopped:
                raise ProviderError("cancelled", retryable=False) from None
            except ProviderError:
                raise
            except Exception as exc:
                if _out_of_memory(exc):
                    await asyncio.to_thread(self._unload)
                    raise ProviderError("the device ran out of memory for this image: try a smaller size or fewer "
                                        "images at once", retryable=False) from exc
                log.exception("local generation failed")
                raise ProviderError(f"local generation failed: {type(exc).__name__}: {exc}"[:500],
                                    retryable=False) from exc
            finally:
                self._schedule_idle(loop)
        path = context.workdir / "image.png"
        await asyncio.to_thread(image.save, path, "PNG")
        await context.progress(100)
        return [MediaOutput(path, "image/png")]

    # -- in a thread: loading and running ---------------------------------------------------------

    def _load(self, source: str) -> Any:
        if self._pipeline is not None and self._source == source:
            return self._pipeline
        self._unload()
        import torch
        from diffusers import DiffusionPipeline

        device = pick_device(self.settings.local_device)
        dtype = torch.float16 if device == "cuda" else torch.float32
        log.info("loading %s on %s", source, device)
        try:
            pipeline = DiffusionPipeline.from_pretrained(source, use_safetensors=True, torch_dtype=dtype,
                                                         local_files_only=Path(source).is_absolute())
        except OSError as exc:
            raise ProviderError(f"the model {source!r} could not be loaded: {exc}"[:500], retryable=False) from exc
        pipeline.set_progress_bar_config(disable=True)
        pipeline = pipeline.to(device)
        self._pipeline, self._source, self._device = pipeline, source, device
        return pipeline

    def _run(self, pipeline: Any, request: _Request, report: Callable[[int, int], None],
             cancelled: Callable[[], bool]) -> Any:
        import torch
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting
        from PIL import Image

        kwargs: dict[str, Any] = {
            "prompt": request.prompt, "negative_prompt": request.negative_prompt,
            "num_inference_steps": request.steps, "guidance_scale": request.guidance_scale,
            # A CPU generator: the same seed gives the same image on any device.
            "generator": torch.Generator("cpu").manual_seed(request.seed) if request.seed is not None else None,
        }
        runner = pipeline
        if request.image is not None:
            init = Image.open(request.image).convert("RGB")
            if request.mask is not None:
                runner = AutoPipelineForInpainting.from_pipe(pipeline)
                width, height = request.width or init.width, request.height or init.height
                kwargs |= {"image": init, "mask_image": Image.open(request.mask).convert("L"),
                           "width": width - width % 8, "height": height - height % 8}
            else:
                runner = AutoPipelineForImage2Image.from_pipe(pipeline)
                kwargs |= {"image": init, "strength": request.strength}
        else:
            kwargs |= {"width": request.width, "height": request.height}
        total = request.steps
        if request.lora is not None:
            # A trained model: its LoRA on the resident base pipeline, for this run only.
            pipeline.load_lora_weights(str(request.lora.parent), weight_name=request.lora.name,
                                       adapter_name="trained")
            pipeline.set_adapters(["trained"], adapter_weights=[request.lora_scale])

        def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            if cancelled():
                raise _Stopped()
            report(step, total)
            return callback_kwargs

        try:
            with torch.inference_mode():
                result = runner(**kwargs, callback_on_step_end=on_step_end)
        finally:
            if request.lora is not None:
                pipeline.unload_lora_weights()
        return result.images[0]

    # -- the resident pipeline ----------------------------------------------------------------------

    def _unload(self) -> None:
        if self._pipeline is None:
            return
        device = self._device
        self._pipeline = self._source = self._device = None
        gc.collect()
        if device == "cuda":
            import torch
            torch.cuda.empty_cache()
        log.info("unloaded the local pipeline")

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _schedule_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        self._cancel_idle()
        delay = self.settings.local_idle_seconds

        def unload_when_idle() -> None:
            if not self._lock.locked():
                threading.Thread(target=self._unload, name="studio-diffusers-unload", daemon=True).start()

        self._idle = loop.call_later(delay, unload_when_idle)

    async def aclose(self) -> None:
        self._cancel_idle()
        self._unload()


class _Request:
    """A task's parameters, checked and with their defaults (the API validated their
    shapes; the ranges are checked again here, where they are used)."""

    def __init__(self, prompt: str, params: Mapping[str, Any], image: Path | None, mask: Path | None,
                 lora: Path | None = None) -> None:
        self.prompt = prompt
        self.image, self.mask, self.lora = image, mask, lora
        self.negative_prompt = params.get("negative_prompt") or None
        self.steps = _int(params, "steps", DEFAULT_STEPS, 1, 150)
        self.guidance_scale = float(_given(params, "guidance_scale", DEFAULT_GUIDANCE))
        self.strength = float(_given(params, "strength", DEFAULT_STRENGTH))
        if not 0 < self.strength <= 1:
            raise ProviderError("strength must be more than 0 and at most 1", retryable=False)
        sized = image is None  # text-to-image: 512 unless given; from an image: the image's size
        self.width = _int(params, "width", 512, 64, 2048) if sized or params.get("width") is not None else None
        self.height = _int(params, "height", 512, 64, 2048) if sized or params.get("height") is not None else None
        for side in (self.width, self.height):
            if side is not None and side % 8:
                raise ProviderError("width and height must be multiples of 8", retryable=False)
        seed = params.get("seed")
        self.seed = int(seed) if seed is not None else None
        self.lora_scale = float(_given(params, "lora_scale", 1.0))

    @classmethod
    def from_task(cls, task: GenerationTask) -> _Request:
        if not task.prompt.strip():
            raise ProviderError("the prompt is empty", retryable=False)
        image = task.inputs[0] if task.inputs else None
        if task.mask is not None and image is None:
            raise ProviderError("a mask needs an image to paint on", retryable=False)
        return cls(task.prompt, task.params, image, task.mask, task.lora)


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Runs `function` in a thread; when the caller is cancelled, waits for the thread to
    end before passing the cancellation on (the step callback ends a run at the next
    step), so the lock is never released while the pipeline is still in use."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await work
        raise


def _given(params: Mapping[str, Any], name: str, default: Any) -> Any:
    value = params.get(name)
    return default if value is None else value


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = _given(params, name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProviderError(f"{name} must be a whole number from {low} to {high}", retryable=False)
    return value


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text or isinstance(exc, MemoryError)
