"""Run every benchmark and write docs/benchmarks.md: tables, the machine, targets met or not.

python bench/report.py [--model DIR] [--out docs/benchmarks.md] [--seed-256] [--quick]

Each benchmark runs in its own process, one after another, so that each has the CPU
(and its memory peak) to itself: bench/train_speed.py --grid, bench/inference.py and
bench/app_latency.py. Run it on an idle machine; it takes about 5 minutes on 2 cores
(--seed-256 adds about a minute). --quick uses tiny settings to check that everything
runs end to end; its numbers mean nothing, and the page says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, too

from bench import app_latency, inference, train_speed
from bench.common import ROOT, cpu_model, load_average, model_folder, table

# What the Gradio round trip of an endpoint returning its upload unchanged cost on the
# 2-core machine this project targets; the floor this run measures is set beside it.
FLOOR_REFERENCE_MS = (230, 250)

# Flags of each benchmark: tiny ones for a smoke test, and the ones the page reports.
QUICK = {
    "train": "--image-size 64 --batch-size 4 --steps 1 --warmup 1",
    "inference": (
        "--repeats 3 --matmul-size 512 --matmul-repeats 2 "
        "--train-batch 2 --train-steps 1 --train-seconds 0"
    ),
    "app": "--calls 3 --moves 3 --warmup 1",
}
FULL = {
    "train": "--grid --min-seconds 10 --steps 5",
    "inference": "--repeats 50",
    "app": "--calls 40 --moves 40",
}


def commands(model: Path, args: argparse.Namespace) -> dict[str, list[str]]:
    """The command line of each benchmark (run_all adds where its JSON goes)."""
    settings = QUICK if args.quick else FULL
    train = [*settings["train"].split(), *(["--seed-256"] if args.seed_256 else [])]
    return {
        "train": ["bench/train_speed.py", *train],
        "inference": [
            "bench/inference.py",
            "--model",
            shown(model),
            *settings["inference"].split(),
        ],
        "app": ["bench/app_latency.py", "--model", shown(model), *settings["app"].split()],
    }


def shown(path: Path) -> str:
    """A path relative to the repository when inside it (commands run from its root)."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def run_all(cmds: dict[str, list[str]], scratch: Path) -> dict[str, dict]:
    """Run each command in turn (output shown as it goes); their JSON results by name."""
    results = {}
    for name, cmd in cmds.items():
        out = scratch / f"{name}.json"
        print(f"\n$ python {shlex.join(cmd)}", flush=True)
        subprocess.run([sys.executable, *cmd, "--json", str(out)], cwd=ROOT, check=True)
        results[name] = json.loads(out.read_text())
    return results


def machine(load_before: float | None, load_after: float | None) -> str:
    """The machine and software the numbers belong to, as a table."""
    import torch

    bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    rows = [
        ["CPU", cpu_model()],
        ["cores (os.cpu_count)", os.cpu_count()],
        ["native bf16 (oneDNN)", "yes" if bf16 else "no"],
        ["Python", platform.python_version()],
        ["torch", torch.__version__],
        ["gradio / gradio_client", f"{version('gradio')} / {version('gradio_client')}"],
        ["load average before / after", f"{_num(load_before)} / {_num(load_after)}"],
    ]
    return table(["machine", ""], rows)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def headline_ratio(train: dict) -> dict | None:
    """default / seed at 128 px and batch 16, else the first ratio measured."""
    found = [r for r in train["ratios"] if r["preset"] == "default" and r["over"] == "seed"]
    exact = [r for r in found if (r["image_size"], r["batch_size"]) == (128, 16)]
    return (exact or found or [None])[0]


def targets(results: dict[str, dict]) -> list[list[str]]:
    """Each target of issue 7: what it asks, what was measured, pass or fail."""
    train, infer, app = results["train"], results["inference"], results["app"]
    trips = app["round_trip_ms"]
    model_ms = infer["timings_ms"]["1"]["reconstruct"]
    slider_ms = app["server_ms"]["frame"]["fn_and_post"]["p50"]
    checks = []  # (what, met, measured)
    ratio = headline_ratio(train)
    if ratio is not None:
        where = f"{ratio['image_size']} px, batch {ratio['batch_size']}"
        checks.append(
            (
                "`default` trains ≥ 3x the images/s of `seed`",
                ratio["ratio"] >= 3.0,
                f"{ratio['ratio']:.2f}x ({where})",
            )
        )
    checks += [
        (
            "reconstruct round trip p50 ≤ 1.25x the identity floor",
            app["ratio_p50"] <= 1.25,
            f"{app['ratio_p50']:.2f}x ({trips['reconstruct']['p50']:.0f} / "
            f"{trips['identity']['p50']:.0f} ms)",
        ),
        (
            "model time per poster (encode + decode, 1 thread) ≤ 15 ms",
            model_ms <= 15.0,
            f"{model_ms:.1f} ms",
        ),
        (
            "slider move server time (handler + output processing) p50 ≤ 30 ms",
            slider_ms <= 30.0,
            f"{slider_ms:.1f} ms",
        ),
    ]
    return [[what, shown, "pass" if met else "**fail**"] for what, met, shown in checks]


def page(results: dict[str, dict], context: dict) -> str:
    """docs/benchmarks.md."""
    train, infer, app = results["train"], results["inference"], results["app"]
    low, high = FLOOR_REFERENCE_MS
    floor = app["round_trip_ms"]["identity"]["p50"]
    warning = (
        "\n> **Smoke run (`--quick`): tiny settings, these numbers mean nothing.**\n"
        if context["quick"]
        else ""
    )
    cmds = "\n".join(f"python {shlex.join(c)}" for c in context["commands"].values())
    return f"""# Benchmarks

Written by `{context["command"]}` on {context["date"]} in {context["minutes"]:.1f} minutes.
Benchmarks measure; the tests never assert a wall-clock time.
{warning}
{machine(context["load_before"], context["load_after"])}

Model: {context["model"]}; {infer["image_size"]} px. Poster: `examples/{app["poster"]}`.

## Targets (issue 7)

{table(["target", "measured", "result"], targets(results))}

## Training throughput

`Trainer.train_step` (discriminator, encoder and decoder updates, EMA) on random images,
after warm-up steps, on all {train["threads"]} threads; `default` in the precision
`--amp auto` picks here. Higher is better.

{train_speed.markdown(train["rows"])}

## Inference

Medians of {infer["repeats"]} calls after warm-up, `torch.inference_mode`, one poster at the
model's resolution. The app serves with 1 torch thread per request, 2 requests at a time.

{inference.timings_markdown(infer)}

Peak resident memory of this benchmark's process: {infer["peak_rss_mb"]["inference"]:.0f} MiB
after the timings above, {infer["peak_rss_mb"]["end"]:.0f} MiB after the training steps below.

## FLOPs and share of the machine's peak

Counted with `torch.utils.flop_counter.FlopCounterMode` (matmuls and convolutions, forward
and backward); the peak is the fastest of several large matmuls. A training step's share is
its counted FLOPs over its measured time, against the peak of the precision it runs in.

{inference.flops_markdown(infer)}

## The app

`app.main` in a subprocess (its page, queue and threads), with one endpoint added,
`/identity`: the same components as `/reconstruct` around a function that writes the
upload unchanged as PNG (through the app's own PNG writer, zlib level 1). Its round trip is
Gradio's own cost; on this project's 2-core machine it was {low}-{high} ms before (busier
CPU, PNGs at Pillow's default level 6), {floor:.0f} ms here. Round trips go through
`gradio_client` (upload, queue, result, download), the two endpoints alternating; slider
moves send posters A (`{app["poster"]}`) and B (`{app["poster_b"]}`) uploaded once, as the
browser does. Server-side phases are Gradio's own (`GRADIO_PROFILING=1`): `fn_call` is the
handler (for `/frame` the decode and its PNG), `postprocess` Gradio's output processing.

{app_latency.markdown(app)}

## Commands

```bash
{context["command"]}
# which ran, one after another:
{cmds}
```
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="exported model folder (default: the shipped checkpoint)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--seed-256", action="store_true", help="also train `seed` at 256 px (slow)")
    p.add_argument("--quick", action="store_true", help="tiny settings: a smoke test")
    p.add_argument("--raw", type=Path, help="also write every raw result as JSON here")
    return p


def main() -> None:
    args = build_parser().parse_args()
    started, load_before = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        scratch = Path(tmp)
        model, described = model_folder(args.model, scratch)
        cmds = commands(model, args)
        results = run_all(cmds, scratch)
    context = {
        "command": "python " + shlex.join(["bench/report.py", *sys.argv[1:]]),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "minutes": (time.perf_counter() - started) / 60,
        "load_before": load_before,
        "load_after": load_average(),
        "quick": args.quick,
        "model": described,
        "commands": cmds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(results, context))
    if args.raw:
        args.raw.write_text(json.dumps({"context": context, **results}, indent=2) + "\n")
    print(f"\nWrote {args.out}")


if __name__ == "__main__":
    main()
