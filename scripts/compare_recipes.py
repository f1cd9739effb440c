"""Train each recipe for the same number of images on the same split and tabulate them.

    python scripts/compare_recipes.py --data DATA_DIR [--images 9600] [--presets ...]

Runs go to runs/compare/<preset> (finished runs are reused); the table and the
grids land in docs/quality.md and docs/quality/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from train.snapshots import read_csv

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("psnr", "ssim", "sharpness")


def train(preset: str, data: Path, images: int, holdout_every: int, out: Path) -> dict:
    metrics_path = out / "model" / "metrics.json"
    if not metrics_path.exists():
        cmd = [
            sys.executable,
            "-m",
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--preset",
            preset,
            "--images",
            str(images),
            "--holdout-every",
            str(holdout_every),
            "--snapshot-every",
            "1000",
            "--checkpoint-every",
            "50",
        ]
        if out.exists():
            cmd.append("--resume")
        subprocess.run(cmd, check=True, cwd=ROOT)
    return json.loads(metrics_path.read_text())


def row(preset: str, m: dict) -> str:
    cells = [preset]
    for split in ("train", "heldout"):
        means = m[split]["mean"]
        cells += [f"{means['psnr']:.2f}", f"{means['ssim']:.3f}", f"{means['sharpness']:.2f}"]
    cells += [f"{m['images_per_s']:.1f}", f"{m['wall_time_s'] / 60:.1f}"]
    return "| " + " | ".join(cells) + " |"


def labelled_column(paths: list[Path], labels: list[str], out: Path) -> None:
    """Stack the grids of several runs, each under its preset's name."""
    images = [Image.open(p).convert("RGB") for p in paths]
    width = max(i.width for i in images)
    height = sum(i.height + 18 for i in images)
    sheet = Image.new("RGB", (width, height), "white")
    y = 0
    draw = ImageDraw.Draw(sheet)
    for image, label in zip(images, labels, strict=True):
        draw.text((4, y + 3), label, fill="black")
        sheet.paste(image, (0, y + 18))
        y += image.height + 18
    sheet.save(out)


def plot_curves(runs: dict[str, Path], out: Path) -> None:
    """Held-out and training metrics against images shown, one line per recipe."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(METRICS), figsize=(4 * len(METRICS), 6), squeeze=False)
    for preset, run in runs.items():
        rows = read_csv(run / "metrics.csv")
        images = [int(r["images"]) for r in rows]
        for i, split in enumerate(("train", "heldout")):
            for ax, metric in zip(axes[i], METRICS, strict=True):
                values = [float(r[f"{split}/{metric}"] or "nan") for r in rows]
                ax.plot(images, values, lw=1.2, label=preset)
                ax.set_title(f"{split} {metric}", fontsize=9)
    for ax in axes.flat:
        ax.set_xlabel("images shown", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--images", type=int, default=9600)
    p.add_argument("--holdout-every", type=int, default=10)
    p.add_argument("--presets", nargs="+", default=["default", "seed", "paper", "vae"])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "compare")
    args = p.parse_args()

    results = {}
    for preset in args.presets:
        results[preset] = train(
            preset, args.data, args.images, args.holdout_every, args.runs / preset
        )

    docs = ROOT / "docs" / "quality"
    docs.mkdir(parents=True, exist_ok=True)
    for name in ("reconstructed", "heldout"):
        paths = [args.runs / preset / "model" / f"{name}.png" for preset in args.presets]
        labelled_column(paths, args.presets, docs / f"{name}.png")
    plot_curves({preset: args.runs / preset for preset in args.presets}, docs / "curves.png")
    for preset in args.presets:
        shutil.copy(args.runs / preset / "model" / "metrics.json", docs / f"{preset}.json")

    header = (
        "| recipe | train PSNR | train SSIM | train sharpness | held-out PSNR | held-out SSIM "
        "| held-out sharpness | images/s | wall (min) |\n" + "|---" * 9 + "|"
    )
    table = "\n".join([header, *(row(k, v) for k, v in results.items())])
    (docs / "table.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
