"""Local generation: images/s and denoising steps/s of Studio's diffusers provider, side
by side with the same pipeline called directly (the reference: what diffusers alone
does on this device), in one run, several rounds.

By default it builds the tiny random-weight pipeline the tests use and runs it on the
CPU at 64x64; on a GPU host, point it at a real model folder:

    .venv/bin/python bench/local_bench.py                       # tiny model, CPU
    .venv/bin/python bench/local_bench.py --model /models/sd15 --device cuda --size 512 --steps 30

Writes bench/results/local.md and local.json, and its section of bench/README.md.
Needs the `local` extra (pip install 'studio[local]').
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from benchlib import write_readme_section  # noqa: E402

from studio.config import Settings  # noqa: E402
from studio.providers.base import GenerationTask  # noqa: E402
from studio.providers.diffusers_local import DiffusersLocal  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


class _Context:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    async def progress(self, percent: int) -> None:
        pass

    async def provider_job(self, provider_job_id: str) -> None:
        pass

    def cancelled(self) -> bool:
        return False

    async def webhook_arrived(self, timeout: float) -> bool:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a diffusers model folder (default: build the tiny test model)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--images", type=int, default=10, help="images per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch
    from diffusers import DiffusionPipeline

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.model is None:
            from studio.dev.tiny_model import build_tiny_pipeline

            model = build_tiny_pipeline(root / "models" / "tiny")
            label = "tiny random-weight SD (tests' model)"
        else:
            model = args.model.resolve()
            label = str(args.model)
        settings = Settings(home=root, models_dir=model.parent, local_device=args.device)  # type: ignore[call-arg]
        provider = DiffusersLocal(settings)
        dtype = torch.float16 if args.device == "cuda" else torch.float32
        direct = DiffusionPipeline.from_pretrained(model, use_safetensors=True, torch_dtype=dtype).to(args.device)
        direct.set_progress_bar_config(disable=True)

        def run_direct() -> None:
            with torch.inference_mode():
                direct("a red cat", num_inference_steps=args.steps, width=args.size, height=args.size,
                       generator=torch.Generator("cpu").manual_seed(1))

        async def run_provider(workdir: Path) -> None:
            task = GenerationTask(generation_id=uuid.uuid4(), type="image", provider_model=model.name,
                                  prompt="a red cat", params={"width": args.size, "height": args.size,
                                                              "steps": args.steps, "seed": 1})
            await provider.generate(task, _Context(workdir))  # type: ignore[arg-type]

        # Warm both (first load, first run) outside the timings.
        run_direct()
        asyncio.run(run_provider(root))
        rounds: list[dict[str, float]] = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.images):
                run_direct()
            direct_s = time.perf_counter() - started

            async def provider_round() -> float:
                started = time.perf_counter()
                for _ in range(args.images):
                    await run_provider(root)
                return time.perf_counter() - started

            provider_s = asyncio.run(provider_round())
            rounds.append({"direct_images_s": args.images / direct_s, "studio_images_s": args.images / provider_s})
        asyncio.run(provider.aclose())

    direct_ips = statistics.median(r["direct_images_s"] for r in rounds)
    studio_ips = statistics.median(r["studio_images_s"] for r in rounds)
    spread = (min(r["studio_images_s"] / r["direct_images_s"] for r in rounds),
              max(r["studio_images_s"] / r["direct_images_s"] for r in rounds))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "  ".join(["`.venv/bin/python bench/local_bench.py", *sys.argv[1:]]).replace("  ", " ") + "`"
    figures = {"when": when, "command": command, "model": label, "device": args.device, "size": args.size,
               "steps": args.steps, "images_per_round": args.images, "rounds": rounds,
               "torch": torch.__version__, "machine": platform.machine()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local.json").write_text(json.dumps(figures, indent=2) + "\n")
    table = [
        f"Last run: {when}, {command}; {label}, {args.size}x{args.size}, {args.steps} steps, device {args.device}, "
        f"torch {torch.__version__}, {args.rounds} rounds of {args.images} images each side (medians).",
        "",
        "| | images/s | denoising steps/s |",
        "|---|---:|---:|",
        f"| diffusers called directly (reference) | {direct_ips:.2f} | {direct_ips * args.steps:.1f} |",
        f"| Studio's provider (`providers/diffusers_local.py`) | {studio_ips:.2f} | {studio_ips * args.steps:.1f} |",
        "",
        f"Studio's share of the reference: {studio_ips / direct_ips:.0%} (rounds: {spread[0]:.0%} to {spread[1]:.0%}). "
        "The provider adds a thread hop, the step callback (progress, cancellation) and writing the PNG.",
    ]
    (RESULTS / "local.md").write_text("# Local generation\n\n" + "\n".join(table) + "\n")
    write_readme_section("<!-- local-bench:start -->", "<!-- local-bench:end -->", [
        "## Local generation (`local_bench.py`)", "",
        "Images/s of the local diffusers provider next to diffusers called directly, same pipeline, same run. "
        "The tiny test model on the CPU by default; `--model DIR --device cuda --size 512 --steps 30` on a GPU host.",
        "", *table, "", "Details: [results/local.md](results/local.md), raw: [results/local.json](results/local.json)."])
    print("\n".join(table))


if __name__ == "__main__":
    main()
