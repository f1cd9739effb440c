"""Training throughput (images/s) per preset on random data, same process, side by side.

python bench/train_speed.py --presets default seed --steps 20 --image-size 128
"""

from __future__ import annotations

import argparse
import time

import torch

from train.config import resolve
from train.data import Split
from train.trainer import Trainer


def measure(preset: str, image_size: int, batch_size: int, steps: int, warmup: int = 3) -> float:
    cfg = resolve(preset, {"batch_size": batch_size}, {"image_size": image_size})
    images = torch.randint(0, 256, (batch_size * 4, 3, image_size, image_size), dtype=torch.uint8)
    split = Split(images, [f"{i}" for i in range(len(images))])
    trainer = Trainer(cfg, split, Split(images[:0], []), out="/tmp/bench-unused")
    x = split.batch(torch.arange(batch_size))
    for _ in range(warmup):
        trainer.train_step(x)
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(x)
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", nargs="+", default=["default", "seed"])
    p.add_argument("--image-size", type=int, nargs="+", default=[128])
    p.add_argument("--batch-size", type=int, nargs="+", default=[16])
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| preset | image size | batch | images/s |\n| --- | --- | --- | --- |")
    for size in args.image_size:
        for batch in args.batch_size:
            for preset in args.presets:
                rate = measure(preset, size, batch, args.steps)
                print(f"| {preset} | {size} | {batch} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
