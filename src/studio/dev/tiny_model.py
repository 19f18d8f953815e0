"""A tiny Stable Diffusion pipeline with random weights, built on the spot: the local
provider's and trainer's tests and benchmarks run on it with no download (a UNet, a VAE
and a CLIP text encoder of a few hundred thousand parameters, a tokenizer made from a
character vocabulary). Its images are noise; what it proves is that the real loading,
generation and training code runs end to end. Needs the `local` extra."""

from __future__ import annotations

import json
import string
from pathlib import Path


def build_tiny_pipeline(folder: Path, *, seed: int = 0) -> Path:
    """Writes a diffusers folder (model_index.json, safetensors weights) to `folder`."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=1000))
    # A character-level BPE vocabulary without merges: every printable character, alone
    # and at the end of a word, around CLIP's start and end tokens.
    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for char in (c for c in string.printable if not c.isspace()):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    spelling = folder / "_vocabulary"
    spelling.mkdir(parents=True, exist_ok=True)
    (spelling / "vocab.json").write_text(json.dumps(vocab))
    (spelling / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(spelling / "vocab.json"), str(spelling / "merges.txt"), model_max_length=77)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipeline.save_pretrained(folder, safe_serialization=True)
    for leftover in spelling.iterdir():
        leftover.unlink()
    spelling.rmdir()
    return folder
