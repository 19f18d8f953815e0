"""LoRA training with diffusers and PEFT on the worker's device: the `local` training
backend. Plain functions run in a worker thread; the job handler (tasks.py) feeds them
the dataset's files and takes their reports.

The loop is the standard text-to-image LoRA recipe: images encoded by the frozen VAE,
noise added at a random timestep, the UNet (frozen, with LoRA adapters on its attention
projections) asked to predict that noise, mean squared error, AdamW on the adapters
only. Each step's batch comes from a generator seeded by (seed, step), so a run resumed
from a checkpoint sees the same batches it would have seen.

A checkpoint is one file, the adapters' weights, the optimizer's state and the step,
written with torch.save and read back with `weights_only=True` (no code runs when it is
loaded). The result is `pytorch_lora_weights.safetensors`, which diffusers'
`load_lora_weights` reads.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
WEIGHTS_NAME = "pytorch_lora_weights.safetensors"


class Stopped(Exception):
    """The run was cancelled (seen between steps)."""


@dataclass(frozen=True)
class TrainingImage:
    path: Path
    caption: str | None


@dataclass(frozen=True)
class Hyperparameters:
    steps: int
    rank: int
    learning_rate: float
    resolution: int
    batch_size: int
    seed: int
    trigger_word: str | None
    checkpoint_every: int
    sample_every: int = 0          # 0: no samples
    sample_prompt: str | None = None
    sample_steps: int = 20


def prompt_of(image: TrainingImage, trigger_word: str | None) -> str:
    """What the model learns to draw from: the trigger word, then the caption."""
    parts = [p for p in (trigger_word, image.caption) if p]
    return ", ".join(parts)


def train(source: str, images: Sequence[TrainingImage], params: Hyperparameters, *, device: str, out_dir: Path,
          checkpoint: Path | None, on_step: Callable[[int, float], None],
          on_checkpoint: Callable[[int, Path], None], cancelled: Callable[[], bool],
          on_sample: Callable[[int, Path], None] | None = None) -> Path:
    """Trains from `checkpoint` (or from the start) up to params.steps; returns the
    weights file. `on_step(step, loss)` after every step (1-based), `on_checkpoint(step,
    file)` every params.checkpoint_every steps (not after the last), `on_sample(step,
    png)` every params.sample_every steps and after the last (an image of the sample
    prompt with the adapters as they are, the same seed each time). Raises Stopped."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
    from PIL import Image

    if not images:
        raise ValueError("the dataset has no images")
    pipeline = StableDiffusionPipeline.from_pretrained(source, use_safetensors=True, safety_checker=None,
                                                       requires_safety_checker=False)
    unet, vae, text_encoder, tokenizer = pipeline.unet, pipeline.vae, pipeline.text_encoder, pipeline.tokenizer
    noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=params.rank, lora_alpha=params.rank, init_lora_weights="gaussian",
                                target_modules=LORA_TARGETS))
    unet.to(device)
    vae.to(device)
    text_encoder.to(device)
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=params.learning_rate)

    start = 0
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        set_peft_model_state_dict(unet, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["step"])

    size = params.resolution
    pixels = torch.stack([_pixels(Image.open(image.path), size) for image in images]).to(device)
    ids = tokenizer([prompt_of(image, params.trigger_word) for image in images], padding="max_length",
                    max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids.to(device)
    unet.train()
    for step in range(start, params.steps):
        if cancelled():
            raise Stopped()
        picker = random.Random(params.seed * 1_000_003 + step)
        batch = [picker.randrange(len(images)) for _ in range(params.batch_size)]
        generator = torch.Generator(device="cpu").manual_seed(params.seed * 1_000_003 + step)
        with torch.no_grad():
            latents = vae.encode(pixels[batch]).latent_dist.sample(generator=generator)
            latents = latents * vae.config.scaling_factor
            hidden = text_encoder(ids[batch])[0]
        noise = torch.randn(latents.shape, generator=generator).to(device)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(batch),),
                                  generator=generator).to(device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        predicted = unet(noisy, timesteps, hidden).sample
        loss = F.mse_loss(predicted.float(), target.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        value = float(loss.detach().item())
        if not math.isfinite(value):
            raise ValueError(f"the loss diverged at step {step + 1} ({value}): try a lower learning rate")
        on_step(step + 1, value)
        done = step + 1
        if on_sample is not None and params.sample_every and (done % params.sample_every == 0
                                                                or done == params.steps):
            on_sample(done, _sample(pipeline, params, images, out_dir / f"sample-{done}.png"))
        if done % params.checkpoint_every == 0 and done < params.steps:
            file = out_dir / f"checkpoint-{done}.pt"
            torch.save({"lora": get_peft_model_state_dict(unet), "optimizer": optimizer.state_dict(), "step": done},
                       file)
            on_checkpoint(done, file)
    weights = get_peft_model_state_dict(unet)
    StableDiffusionPipeline.save_lora_weights(out_dir, unet_lora_layers=weights, safe_serialization=True)
    return out_dir / WEIGHTS_NAME


def _sample(pipeline: Any, params: Hyperparameters, images: Sequence[TrainingImage], path: Path) -> Path:
    """An image of the sample prompt (default: the first image's prompt) with the
    adapters trained so far; the same seed each time, so samples show the change."""
    import torch

    prompt = params.sample_prompt or prompt_of(images[0], params.trigger_word) or "a picture"
    pipeline.unet.eval()
    try:
        with torch.no_grad():
            generator = torch.Generator("cpu").manual_seed(params.seed)
            image = pipeline(prompt, num_inference_steps=params.sample_steps, height=params.resolution,
                             width=params.resolution, generator=generator).images[0]
    finally:
        pipeline.unet.train()
    image.save(path, "PNG")
    return path


def _pixels(image: Any, size: int) -> Any:
    """The image as the VAE takes it: RGB, its short side scaled to `size` and the
    middle cropped square, values in [-1, 1]."""
    import numpy as np
    import torch

    image = image.convert("RGB")
    scale = size / min(image.size)
    resized = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))))
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    square = resized.crop((left, top, left + size, top + size))
    array = np.asarray(square, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)
