"""The local diffusers provider for real, on a tiny random-weight Stable Diffusion
pipeline the test session builds (studio/dev/tiny_model.py): no download, the CPU.
Text-to-image, image-to-image and inpainting; seeds repeat images; progress per step;
cancellation between steps; the resident pipeline unloaded when idle; a folder of
pickled weights refused. `make test` installs the `local` extra, so CI runs all of this;
elsewhere the module is skipped when the extra is missing."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from studio.config import Settings
from studio.providers.base import GenerationTask, ProviderError
from studio.providers.diffusers_local import DiffusersLocal, installed
from tests.providers.conftest import FakeContext

if not installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI runs the local provider's tests: `make test` installs the local extra")
    pytest.skip("the local extra (torch, diffusers) is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from studio.dev.tiny_model import build_tiny_pipeline

    root = tmp_path_factory.mktemp("models")
    build_tiny_pipeline(root / "tiny")
    return root


@pytest.fixture
def provider(models_dir: Path, tmp_path: Path) -> Iterator[DiffusersLocal]:
    made = DiffusersLocal(Settings(home=tmp_path, models_dir=models_dir, local_device="cpu",  # type: ignore[call-arg]
                                   local_idle_seconds=600, local_models_from_hub=False))
    yield made
    asyncio.run(made.aclose())


def task(prompt: str = "a red cat", inputs: tuple[Path, ...] = (), mask: Path | None = None, model: str = "tiny",
         **params: object) -> GenerationTask:
    return GenerationTask(generation_id=uuid.uuid4(), type="image", provider_model=model, prompt=prompt,
                          params=params, inputs=inputs, mask=mask)


def generate(provider: DiffusersLocal, job: GenerationTask, workdir: Path, **context: object) -> tuple[bytes, FakeContext]:
    ctx = FakeContext(workdir, **context)  # type: ignore[arg-type]

    async def run() -> bytes:
        outputs = await provider.generate(job, ctx)
        assert [o.content_type for o in outputs] == ["image/png"]
        return outputs[0].path.read_bytes()

    return asyncio.run(run()), ctx


def test_text_to_image_makes_a_png_of_the_size_asked_and_a_seed_repeats_it(provider: DiffusersLocal, tmp_path: Path):
    first, ctx = generate(provider, task(width=64, height=64, steps=2, seed=7), tmp_path)
    image = Image.open(io.BytesIO(first))
    assert (image.format, image.size) == ("PNG", (64, 64))
    assert ctx.progress_reports[-1] == 100 and ctx.progress_reports == sorted(ctx.progress_reports)
    assert len(ctx.progress_reports) >= 3  # one per step, then done
    again, _ = generate(provider, task(width=64, height=64, steps=2, seed=7), tmp_path)
    other, _ = generate(provider, task(width=64, height=64, steps=2, seed=8), tmp_path)
    assert again == first and other != first
    assert provider.resident is not None and provider.resident.endswith("tiny")


def test_image_to_image_and_inpainting_keep_the_input_size(provider: DiffusersLocal, tmp_path: Path):
    source, mask = tmp_path / "in.png", tmp_path / "mask.png"
    Image.new("RGB", (72, 48), (200, 40, 40)).save(source)
    painted = Image.new("L", (72, 48), 0)
    painted.paste(255, (20, 10, 50, 40))
    painted.save(mask)
    varied, _ = generate(provider, task(inputs=(source,), steps=4, strength=0.5, seed=1), tmp_path)
    assert Image.open(io.BytesIO(varied)).size == (72, 48)
    filled, _ = generate(provider, task(inputs=(source,), mask=mask, steps=2, seed=1), tmp_path)
    assert Image.open(io.BytesIO(filled)).size == (72, 48)


def test_a_cancelled_run_stops_between_steps(provider: DiffusersLocal, tmp_path: Path):
    with pytest.raises(ProviderError, match="cancelled"):
        generate(provider, task(width=64, height=64, steps=40), tmp_path, cancel_above=5)
    # It stopped long before the end, and the provider still works afterwards.
    image, _ = generate(provider, task(width=64, height=64, steps=1), tmp_path)
    assert Image.open(io.BytesIO(image)).size == (64, 64)


def test_bad_requests_fail_with_a_sentence(provider: DiffusersLocal, tmp_path: Path):
    for job, message in [
        (task(model="missing"), "no diffusers model named 'missing'"),
        (task(model="org/name"), "hub downloads are turned off"),
        (task(model="../tiny"), "neither a folder name nor a hub name"),
        (task(width=65, height=64), "multiples of 8"),
        (task(steps=0), "steps must be a whole number from 1 to 150"),
        (task(prompt="  "), "the prompt is empty"),
    ]:
        with pytest.raises(ProviderError, match=message) as caught:
            generate(provider, job, tmp_path)
        assert caught.value.retryable is False


def test_the_pipeline_is_unloaded_when_idle(models_dir: Path, tmp_path: Path):
    provider = DiffusersLocal(Settings(home=tmp_path, models_dir=models_dir, local_device="cpu",  # type: ignore[call-arg]
                                       local_idle_seconds=0.2))

    async def run() -> tuple[str | None, str | None]:
        await provider.generate(task(width=64, height=64, steps=1), FakeContext(tmp_path))
        loaded = provider.resident
        for _ in range(100):
            await asyncio.sleep(0.05)
            if provider.resident is None:
                break
        return loaded, provider.resident

    loaded, later = asyncio.run(run())
    assert loaded is not None and later is None


def test_pickled_weights_are_refused(models_dir: Path, tmp_path: Path):
    from diffusers import StableDiffusionPipeline

    pickled = tmp_path / "models" / "pickled"
    StableDiffusionPipeline.from_pretrained(models_dir / "tiny", use_safetensors=True).save_pretrained(
        pickled, safe_serialization=False)
    # The UNet and the VAE are pickles now (transformers writes the text encoder as safetensors anyway).
    assert list((pickled / "unet").glob("*.bin")) and not list((pickled / "unet").glob("*.safetensors"))
    provider = DiffusersLocal(Settings(home=tmp_path, models_dir=tmp_path / "models",  # type: ignore[call-arg]
                                       local_device="cpu"))
    with pytest.raises(ProviderError, match="could not be loaded"):
        generate(provider, task(model="pickled", width=64, height=64, steps=1), tmp_path)
    assert provider.resident is None
