"""What a run writes for people to look at: image grids, CSV logs and their plots."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

logger = logging.getLogger(__name__)


def _to01(x: torch.Tensor) -> torch.Tensor:
    return (x.detach().float().cpu().clamp(-1, 1) + 1) / 2


def save_pairs_grid(x: torch.Tensor, x_rec: torch.Tensor, path: Path) -> None:
    """Inputs on the top row, their reconstructions below; (N, 3, S, S) in [-1, 1]."""
    grid = make_grid(_to01(torch.cat([x, x_rec])), nrow=x.shape[0], padding=2, pad_value=1.0)
    save_image(grid, path)


def save_samples_grid(x_gen: torch.Tensor, path: Path, nrow: int = 8) -> None:
    save_image(make_grid(_to01(x_gen), nrow=nrow, padding=2, pad_value=1.0), path)


def append_csv(path: Path, row: dict) -> None:
    """Append one row; the header is written with the first row."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def truncate_csv(path: Path, max_images: int) -> None:
    """Drop rows logged after `max_images`, so a resumed run does not log them twice."""
    rows = [r for r in read_csv(path) if int(r["images"]) <= max_images]
    # Rewritten aside and renamed in: a run killed here keeps its whole log.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    for row in rows:
        append_csv(tmp, row)
    if rows:
        os.replace(tmp, path)
    else:
        path.unlink(missing_ok=True)


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """One panel per loss column against images shown."""
    rows = read_csv(csv_path)
    if rows:
        keys = [k for k in rows[0] if k.startswith("train/")]
        _plot_panels(rows, {k.removeprefix("train/"): [k] for k in keys}, png_path)


def plot_metrics(csv_path: Path, png_path: Path) -> None:
    """PSNR, SSIM and sharpness against images shown, one line per split."""
    rows = read_csv(csv_path)
    if rows:
        panels = {m: [k for k in rows[0] if k.endswith(f"/{m}")] for m in METRIC_NAMES}
        _plot_panels(rows, panels, png_path, legend=True)


METRIC_NAMES = ("psnr", "ssim", "sharpness")


def _plot_panels(
    rows: list[dict], panels: dict[str, list[str]], png_path: Path, legend: bool = False
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = [int(r["images"]) for r in rows]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.8), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels.items(), strict=True):
        for key in keys:
            values = [float(r[key]) if r[key] not in ("", None) else float("nan") for r in rows]
            ax.plot(images, values, lw=1, label=key.split("/")[0])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("images shown", fontsize=8)
        ax.tick_params(labelsize=7)
        if legend:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
