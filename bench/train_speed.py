"""Training throughput (images/s) per preset on random data, same process, side by side.

python bench/train_speed.py --presets default seed --steps 20 --image-size 128
python bench/train_speed.py --grid [--seed-256] [--min-seconds 10] [--json out.json]

Each row times `Trainer.train_step` (all three players, optimiser steps, EMA) on one batch
after warm-up steps, at torch's default thread count. The first preset is divided by each
other one measured at the same size and batch: the ratio rows. `--grid` runs the set that
docs/benchmarks.md reports: `default` at 64, 128 and 256 px with batches of 8, 16 and 32,
and `seed` at 64 and 128 px with batch 16 (and 256 px with `--seed-256`; it is slow).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, too

from bench.common import table
from train.config import resolve
from train.data import Split
from train.trainer import Trainer

GRID = {
    "default": [(size, batch) for size in (64, 128, 256) for batch in (8, 16, 32)],
    "seed": [(64, 16), (128, 16)],
}
SEED_256 = (256, 16)


def make_trainer(preset: str, image_size: int, batch_size: int) -> tuple[Trainer, torch.Tensor]:
    """A fresh trainer for a preset on random images, and one batch laid out as training does."""
    cfg = resolve(preset, {"batch_size": batch_size}, {"image_size": image_size})
    images = torch.randint(0, 256, (batch_size, 3, image_size, image_size), dtype=torch.uint8)
    split = Split(images, [f"{i}" for i in range(batch_size)])
    out = Path(tempfile.gettempdir()) / "bench-unused"  # train_step never writes there
    trainer = Trainer(cfg, split, Split(images[:0], []), out=out)
    # Trainer._run_epoch hands each batch over in the preset's memory format (NHWC for default).
    x = split.batch(torch.arange(batch_size)).to(
        trainer.device, memory_format=trainer.memory_format
    )
    return trainer, x


def precision(trainer: Trainer) -> str:
    """'bf16', 'fp16' or 'fp32': what the preset's autocast runs the step in here."""
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(trainer.amp_dtype, "fp32")


def measure(
    preset: str,
    image_size: int,
    batch_size: int,
    steps: int,
    warmup: int = 3,
    min_seconds: float = 0.0,
) -> dict:
    """Images per second over at least `steps` steps and `min_seconds`, after warm-up."""
    trainer, x = make_trainer(preset, image_size, batch_size)
    for _ in range(warmup):
        trainer.train_step(x)
    done, started = 0, time.perf_counter()
    while done < steps or time.perf_counter() - started < min_seconds:
        trainer.train_step(x)
        done += 1
    elapsed = time.perf_counter() - started
    return {
        "preset": preset,
        "image_size": image_size,
        "batch_size": batch_size,
        "precision": precision(trainer),
        "steps": done,
        "images_per_s": done * batch_size / elapsed,
    }


def ratios(rows: list[dict]) -> list[dict]:
    """The first preset's throughput over each other preset's at the same size and batch."""
    if not rows:
        return []
    first = rows[0]["preset"]
    rate = {(r["preset"], r["image_size"], r["batch_size"]): r["images_per_s"] for r in rows}
    found = []
    for r in rows:
        base = rate.get((first, r["image_size"], r["batch_size"]))
        if r["preset"] != first and base:
            found.append(
                {
                    "image_size": r["image_size"],
                    "batch_size": r["batch_size"],
                    "preset": first,
                    "over": r["preset"],
                    "ratio": base / r["images_per_s"],
                }
            )
    return found


def plan(presets: list[str], sizes: list[int], batches: list[int], grid: bool, seed_256: bool):
    """(preset, size, batch) in order, each size and batch's presets one after another."""
    if not grid:
        return [(p, s, b) for s in sizes for b in batches for p in presets]
    wanted = {p: list(GRID.get(p, GRID["default"])) for p in presets}
    if seed_256 and "seed" in wanted:
        wanted["seed"].append(SEED_256)
    configs = sorted({c for cs in wanted.values() for c in cs})
    return [(p, s, b) for s, b in configs for p in presets if (s, b) in wanted[p]]


def markdown(rows: list[dict]) -> str:
    """The throughput table, then the ratio table."""
    body = table(
        ["preset", "image size", "batch", "precision", "images/s"],
        [
            [
                r["preset"],
                r["image_size"],
                r["batch_size"],
                r["precision"],
                f"{r['images_per_s']:.1f}",
            ]
            for r in rows
        ],
    )
    found = ratios(rows)
    if found:
        body += "\n\n" + table(
            ["image size", "batch", "presets", "ratio"],
            [
                [
                    r["image_size"],
                    r["batch_size"],
                    f"{r['preset']} / {r['over']}",
                    f"{r['ratio']:.2f}",
                ]
                for r in found
            ],
        )
    return body


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", nargs="+", default=["default", "seed"])
    p.add_argument("--image-size", type=int, nargs="+", default=[128])
    p.add_argument("--batch-size", type=int, nargs="+", default=[16])
    p.add_argument("--steps", type=int, default=20, help="timed steps at least")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=0.0, help="time each row this long")
    p.add_argument("--grid", action="store_true", help="the docs/benchmarks.md set of sizes")
    p.add_argument("--seed-256", action="store_true", help="with --grid: seed at 256 px too")
    p.add_argument("--json", type=Path, help="also write the rows and ratios here")
    return p


def main() -> None:
    args = build_parser().parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| preset | image size | batch | precision | images/s |\n| --- | --- | --- | --- | --- |")
    rows = []
    for preset, size, batch in plan(
        args.presets, args.image_size, args.batch_size, args.grid, args.seed_256
    ):
        row = measure(preset, size, batch, args.steps, args.warmup, args.min_seconds)
        rows.append(row)
        print(
            f"| {preset} | {size} | {batch} | {row['precision']} | {row['images_per_s']:.1f} |",
            flush=True,
        )
    for r in ratios(rows):
        print(
            f"{r['preset']} / {r['over']} at {r['image_size']} px, batch {r['batch_size']}: "
            f"{r['ratio']:.2f}x"
        )
    if args.json:
        result = {"threads": torch.get_num_threads(), "rows": rows, "ratios": ratios(rows)}
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
