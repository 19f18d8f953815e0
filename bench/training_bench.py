"""LoRA training: steps/s of Studio's trainer (studio/training/local_trainer.py) as a run
uses it (a loss report every step, a checkpoint written every `--checkpoint-every`
steps), side by side with the same loop bare (no reports, no checkpoints: the
reference), in one run, several rounds.

By default it builds the tiny random-weight pipeline the tests use and trains on the
CPU at 64x64; on a GPU host, point it at a real model folder:

    .venv/bin/python bench/training_bench.py                  # tiny model, CPU
    .venv/bin/python bench/training_bench.py --model /models/sd15 --device cuda --resolution 512 --steps 50

Writes bench/results/training.md and training.json, and its section of bench/README.md.
Needs the `local` extra (pip install 'studio[local]').
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from benchlib import write_readme_section  # noqa: E402

from studio.training.local_trainer import Hyperparameters, TrainingImage, train  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a diffusers model folder (default: build the tiny test model)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch
    from PIL import Image

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.model is None:
            from studio.dev.tiny_model import build_tiny_pipeline

            model = build_tiny_pipeline(root / "tiny")
            label = "tiny random-weight SD (tests' model)"
        else:
            model, label = args.model.resolve(), str(args.model)
        images = []
        for i in range(8):
            path = root / f"image-{i}.png"
            Image.new("RGB", (args.resolution + 16, args.resolution), (30 * i, 120, 200 - 20 * i)).save(path)
            images.append(TrainingImage(path, f"a square number {i}"))

        def run(studio: bool) -> float:
            out = root / f"out-{time.monotonic_ns()}"
            out.mkdir()
            params = Hyperparameters(steps=args.steps, rank=args.rank, learning_rate=1e-4,
                                     resolution=args.resolution, batch_size=args.batch_size, seed=1,
                                     trigger_word="sks",
                                     checkpoint_every=args.checkpoint_every if studio else args.steps + 1)
            reports: list[float] = []
            started: list[float] = []

            def on_step(step: int, loss: float) -> None:
                if not started:
                    started.append(time.perf_counter())  # from the first step: loading is not training
                if studio:
                    reports.append(loss)

            train(str(model), images, params, device=args.device, out_dir=out, checkpoint=None, on_step=on_step,
                  on_checkpoint=lambda step, file: None, cancelled=lambda: False)
            return (args.steps - 1) / (time.perf_counter() - started[0])

        run(False)  # warm-up: first loads, allocator
        rounds = [{"bare_steps_s": run(False), "studio_steps_s": run(True)} for _ in range(args.rounds)]

    bare = statistics.median(r["bare_steps_s"] for r in rounds)
    studio = statistics.median(r["studio_steps_s"] for r in rounds)
    shares = [r["studio_steps_s"] / r["bare_steps_s"] for r in rounds]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["`.venv/bin/python bench/training_bench.py", *sys.argv[1:]]).strip() + "`"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training.json").write_text(json.dumps({
        "when": when, "command": command, "model": label, "device": args.device, "resolution": args.resolution,
        "steps": args.steps, "batch_size": args.batch_size, "rank": args.rank,
        "checkpoint_every": args.checkpoint_every, "rounds": rounds, "torch": torch.__version__}, indent=2) + "\n")
    table = [
        f"Last run: {when}, {command}; {label}, {args.resolution}x{args.resolution}, batch {args.batch_size}, "
        f"rank {args.rank}, {args.steps} steps, device {args.device}, torch {torch.__version__}, "
        f"{args.rounds} rounds (medians).",
        "",
        "| | steps/s | images/s |",
        "|---|---:|---:|",
        f"| the training loop bare (reference) | {bare:.2f} | {bare * args.batch_size:.2f} |",
        f"| as a run uses it (loss reports, a checkpoint every {args.checkpoint_every} steps) | {studio:.2f} | "
        f"{studio * args.batch_size:.2f} |",
        "",
        f"Studio's share of the reference: {studio / bare:.0%} (rounds: {min(shares):.0%} to {max(shares):.0%}). "
        "The checkpoints are written to the local disk here; their upload to storage (the worker's event loop, while "
        "the next steps train) is not in these figures.",
    ]
    (RESULTS / "training.md").write_text("# LoRA training\n\n" + "\n".join(table) + "\n")
    write_readme_section("<!-- training-bench:start -->", "<!-- training-bench:end -->", [
        "## LoRA training (`training_bench.py`)", "",
        "Steps/s of the trainer as a run uses it next to the same loop bare, same run. The tiny test model on the "
        "CPU by default; `--model DIR --device cuda --resolution 512` on a GPU host.",
        "", *table, "", "Details: [results/training.md](results/training.md), raw: "
        "[results/training.json](results/training.json)."])
    print("\n".join(table))


if __name__ == "__main__":
    main()
