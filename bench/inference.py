"""Inference speed, FLOPs and the machine's matmul peak, on an exported model.

python bench/inference.py [--model DIR] [--threads 1 2] [--repeats 50] [--json out.json]

Model timings are medians of --repeats calls after warm-up, under torch.inference_mode,
for one poster at the model's resolution: encode, decode, reconstruct (encode + decode),
and a 16-frame interpolation strip; plus what surrounds them in the app (reading and
resizing a real JPEG, writing a 2x frame as PNG). FLOPs are counted by
torch.utils.flop_counter.FlopCounterMode: the forward pass per image, and one
`Trainer.train_step` per image for the `default` and `seed` presets (forward and backward
of encoder, decoder and discriminator), whose measured speed is then set against the peak
of large matmuls timed on all threads in fp32 and bf16.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, too

from bench.common import POSTER, median, model_folder, table
from bench.train_speed import make_trainer, precision
from vaegan import VAEGAN, to_pil, to_tensor
from vaegan.images import save_png

STRIP_FRAMES = 16


def time_ms(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of fn() in milliseconds, after warm-up calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def png_frame(model: VAEGAN, x: torch.Tensor) -> bytes:
    """What the app does with a decoded frame: 2x bicubic upscale, then PNG."""
    side = 2 * model.config.image_size
    image = to_pil(x).resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    save_png(image, buffer)
    return buffer.getvalue()


def model_timings(model: VAEGAN, poster: Path, threads: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per operation at a given torch thread count."""
    torch.set_num_threads(threads)
    size = model.config.image_size
    x = to_tensor(poster, size)[None]
    with torch.inference_mode():
        z = model.encode(x)[0]
        z_b = torch.randn_like(z[0])
        frame = model.decode(z)[0]
        ops = {
            "encode": lambda: model.encode(x),
            "decode": lambda: model.decode(z),
            "reconstruct": lambda: model.reconstruct(x),
            "strip16": lambda: model.interpolate(z[0], z_b, STRIP_FRAMES, "slerp"),
            "read_poster": lambda: to_tensor(poster, size),
            "png_frame": lambda: png_frame(model, frame),
        }
        return {name: time_ms(fn, repeats) for name, fn in ops.items()}


def forward_flops(model: VAEGAN) -> dict[str, int]:
    """FLOPs of one image through the encoder, the decoder, and both (reconstruct)."""
    x = torch.zeros(1, 3, model.config.image_size, model.config.image_size)
    z = torch.zeros(1, model.config.latent_dim)
    counts = {}
    for name, fn in (
        ("encode", lambda: model.encode(x)),
        ("decode", lambda: model.decode(z)),
        ("reconstruct", lambda: model.reconstruct(x)),
    ):
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            fn()
        counts[name] = counter.get_total_flops()
    return counts


def train_step_flops(
    preset: str, image_size: int, batch: int, steps: int, min_seconds: float = 0.0
) -> dict:
    """FLOPs per image of one training step, and the speed the same step runs at."""
    trainer, x = make_trainer(preset, image_size, batch)
    trainer.train_step(x)  # warm-up: oneDNN picks its kernels on the first call
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(x)
    flops = counter.get_total_flops()
    done, started = 0, time.perf_counter()
    while done < steps or time.perf_counter() - started < min_seconds:
        trainer.train_step(x)
        done += 1
    step_s = (time.perf_counter() - started) / done
    return {
        "preset": preset,
        "image_size": image_size,
        "batch_size": batch,
        "precision": precision(trainer),
        "flops_per_image": flops / batch,
        "gflops_per_s": flops / step_s / 1e9,
    }


def matmul_peak(dtype: torch.dtype, n: int, repeats: int) -> float:
    """GFLOP/s of the fastest of `repeats` n x n matmuls on all threads (2 n^3 FLOPs each)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    best = float("inf")
    for i in range(repeats + 2):
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        if i >= 2:  # the first calls pay for allocation and kernel choice
            best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best / 1e9


def run(args: argparse.Namespace, scratch: Path) -> dict:
    """Every measurement, as one JSON-ready dict."""
    folder, described = model_folder(args.model, scratch)
    model = VAEGAN.from_pretrained(folder).eval()
    all_threads = torch.get_num_threads()
    timings = {n: model_timings(model, args.poster, n, args.repeats) for n in args.threads}
    inference_rss_mb = _max_rss_mb()  # before the training steps raise it
    torch.set_num_threads(all_threads)  # the peak and the training step use the whole CPU
    peaks = {
        "fp32": matmul_peak(torch.float32, args.matmul_size, args.matmul_repeats),
        "bf16": matmul_peak(torch.bfloat16, args.matmul_size, args.matmul_repeats),
    }
    size = model.config.image_size
    training = [
        train_step_flops(p, size, args.train_batch, args.train_steps, args.train_seconds)
        for p in args.presets
    ]
    for row in training:
        row["share_of_peak"] = row["gflops_per_s"] / peaks.get(row["precision"], peaks["fp32"])
    return {
        "model": described,
        "image_size": size,
        "poster": Path(args.poster).name,
        "repeats": args.repeats,
        "timings_ms": {str(n): t for n, t in timings.items()},
        "forward_flops": forward_flops(model),
        "peak_gflops": peaks,
        "matmul_size": args.matmul_size,
        "all_threads": all_threads,
        "training": training,
        "peak_rss_mb": {"inference": inference_rss_mb, "end": _max_rss_mb()},
    }


def _max_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


OPS = {
    "encode": "encode one poster",
    "decode": "decode one latent",
    "reconstruct": "reconstruct one poster (encode + decode)",
    "strip16": f"interpolation strip of {STRIP_FRAMES} frames (decode)",
    "read_poster": "read and resize the JPEG poster (open_image + to_tensor)",
    "png_frame": "2x frame to PNG (bicubic resize + PNG encode)",
}


def timings_markdown(result: dict) -> str:
    """Median milliseconds per operation, one column per thread count."""
    threads = list(result["timings_ms"])
    rows = [
        [label] + [f"{result['timings_ms'][n][op]:.1f}" for n in threads]
        for op, label in OPS.items()
    ]
    return table(["operation (median ms)"] + [f"{n} thread(s)" for n in threads], rows)


def flops_markdown(result: dict) -> str:
    """FLOPs of the forward pass, the matmul peaks, and the training step's share of them."""
    peaks = result["peak_gflops"]
    peak_rows = [
        [f"{dtype}, {result['matmul_size']}² matmul, {result['all_threads']} threads", f"{g:.0f}"]
        for dtype, g in peaks.items()
    ]
    train_rows = [
        [
            r["preset"],
            f"{r['image_size']} px, batch {r['batch_size']}",
            r["precision"],
            f"{r['flops_per_image'] / 1e9:.2f}",
            f"{r['gflops_per_s']:.1f}",
            f"{100 * r['share_of_peak']:.0f}% of {r['precision']}",
        ]
        for r in result["training"]
    ]
    flops = result["forward_flops"]
    return "\n\n".join(
        [
            table(
                ["forward pass, one image", "GFLOPs"],
                [[OPS[k], f"{v / 1e9:.3f}"] for k, v in flops.items()],
            ),
            table(["measured peak", "GFLOP/s"], peak_rows),
            table(
                ["training step", "at", "precision", "GFLOPs/image", "GFLOP/s", "share of peak"],
                train_rows,
            ),
        ]
    )


def markdown(result: dict) -> str:
    return timings_markdown(result) + "\n\n" + flops_markdown(result)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="exported model folder (default: the shipped checkpoint)")
    p.add_argument("--poster", type=Path, default=POSTER)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--matmul-repeats", type=int, default=10)
    p.add_argument("--presets", nargs="+", default=["default", "seed"])
    p.add_argument("--train-batch", type=int, default=16)
    p.add_argument("--train-steps", type=int, default=5, help="timed steps per preset, at least")
    p.add_argument("--train-seconds", type=float, default=10.0, help="and at least this long")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p


def main() -> None:
    args = build_parser().parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as scratch:
        result = run(args, Path(scratch))
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
