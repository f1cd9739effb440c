"""A short mixed-precision training on a GPU: does it learn, export and reload on CPU?

    python bench/cuda_check.py [--device cuda] [--steps 300] [--batch-size 64] \
        [--no-channels-last] [--compile]

Meant for a bare GPU machine: it needs only what the training path imports
(torch >= 2.3 with torchvision, safetensors, huggingface_hub 1.x or 2.x, pillow,
numpy, tqdm; none of this repo's pins) beside its `vaegan` and `train`
packages, trains the `default` preset on synthetic poster-like images made in
memory (no data, no network), and prints one JSON object: images/s, the
precision used, the reconstruction loss at the start and the end, and how far
the CPU reload's output is from the GPU model's. Exits 1 when the loss did not
fall or the reload disagrees. `--device cpu` runs the same path on a CPU (the
test suite does, with a tiny model).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train.config import resolve
from train.data import Split
from train.trainer import Trainer
from vaegan import VAEGAN

WINDOW = 20  # steps averaged at each end of the run to tell whether the loss fell


def synthetic_posters(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) uint8: a flat colour with a band and a block of others."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.randint(0, 256, (count, 3, 3), generator=g, dtype=torch.uint8)
    images = colours[:, 0, :, None, None].expand(count, 3, size, size).clone()
    for i in range(count):
        top, left = torch.randint(0, size // 2, (2,), generator=g).tolist()
        images[i, :, top : top + size // 4, :] = colours[i, 1, :, None, None]
        images[i, :, top : top + size // 3, left : left + size // 3] = colours[i, 2, :, None, None]
    return images


def build_trainer(args: argparse.Namespace) -> Trainer:
    cfg = resolve(
        "default",
        {"batch_size": args.batch_size, "device": args.device, "images": 10**9},
        {"image_size": args.image_size},
    )
    cfg = replace(cfg, channels_last=args.channels_last)
    if args.tiny:  # the test suite's CPU path: the same code with a small network
        cfg = replace(
            cfg,
            model=replace(
                cfg.model, base_channels=8, max_channels=16, d_base_channels=8, d_max_channels=16
            ),
        )
    images = synthetic_posters(args.batch_size * 4, args.image_size)
    split = Split(images, [f"synthetic{i:03d}" for i in range(len(images))])
    trainer = Trainer(cfg, split, Split(images[:0], []), Path(tempfile.mkdtemp()))
    if args.compile:
        # Compiling the loss computation leaves the modules (and their state_dict keys)
        # untouched, so the export below is the same as without it.
        trainer.compute_losses = torch.compile(trainer.compute_losses)
    return trainer


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train(trainer: Trainer, steps: int, warmup: int) -> tuple[list[float], float]:
    """Run the steps; returns each step's rec loss and images/s after the warm-up."""
    split, batch = trainer.train_set, trainer.cfg.batch_size
    losses, started = [], None
    for step in range(steps):
        if step == warmup:
            synchronize(trainer.device)
            started = time.perf_counter()
        index = torch.randperm(len(split))[:batch]
        x = split.batch(index).to(trainer.device, memory_format=trainer.memory_format)
        losses.append(trainer.train_step(x)["train/rec_loss"])
        trainer.images_seen += batch
    synchronize(trainer.device)
    return losses, (steps - warmup) * batch / (time.perf_counter() - started)


def reload_gap(trainer: Trainer) -> float:
    """Largest |difference| between the trained model and its export reloaded on CPU."""
    model = trainer.eval_model()
    x = trainer.train_set.batch(torch.arange(4))
    with torch.inference_mode():
        on_device = model.reconstruct(x.to(trainer.device)).float().cpu()
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        reloaded = VAEGAN.from_pretrained(folder)
    return (reloaded.reconstruct(x) - on_device).abs().max().item()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", action="store_true", help="torch.compile the loss computation")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 2 * WINDOW or args.warmup >= args.steps:
        p.error(f"--steps must be at least {2 * WINDOW} and more than --warmup")

    trainer = build_trainer(args)
    losses, rate = train(trainer, args.steps, args.warmup)
    first, last = sum(losses[:WINDOW]) / WINDOW, sum(losses[-WINDOW:]) / WINDOW
    gap = reload_gap(trainer)
    result = {
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "precision": str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "fp32",
        "channels_last": args.channels_last,
        "compile": args.compile,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "steps": args.steps,
        "images_per_s": round(rate, 1),
        "rec_loss_first": round(first, 4),
        "rec_loss_last": round(last, 4),
        "loss_fell": last < 0.9 * first,
        # bf16 autocast on the device against fp32 on CPU: a few 1/255 steps apart at most.
        "cpu_reload_max_abs_diff": round(gap, 4),
        "reload_ok": gap < 0.1,
    }
    print(json.dumps(result, indent=2))
    return 0 if result["loss_fell"] and result["reload_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
