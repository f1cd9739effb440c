"""Measure how well a model reconstructs a folder of images.

    python -m train.evaluate --model runs/posters/model --data data/posters \
        [--holdout-every 10] [--split heldout] [--json m.json] [--csv m.csv] [--grid g.png]

Images are chosen exactly as training chooses them (train.data.load_folder:
readable files sorted by relative path, every K-th held out), stretched to the
model's square and reconstructed from the posterior mean. Per image: PSNR (dB),
SSIM and sharpness ratio, from vaegan.metrics.image_metrics.

Defaults: --holdout-every is read from MODEL/metrics.json when the model is an
exported training folder (else 0); --split is "heldout" when K > 0, else "all".
Only the means are printed unless asked for more: --json (means, per-image
values, model/data/split), --csv (one row per image) and --grid (inputs above,
reconstructions below, GRID_COLUMNS to a row pair) are written only when given.
Means leave out NaN values (the sharpness ratio of a perfectly flat input).
Exit status: 0 done, 2 bad model or data.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from vaegan.metrics import image_metrics
from vaegan.model import VAEGAN, ModelLoadError

from .data import DataError, Split, load_folder

logger = logging.getLogger(__name__)

SPLITS = ("train", "heldout", "all")
METRICS = ("psnr", "ssim", "sharpness")
GRID_COLUMNS = 8
BATCH_SIZE = 32


def select_split(data_dir: Path, image_size: int, holdout_every: int, split: str) -> Split:
    """The images training would use for `split`, as uint8 (N, 3, S, S)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "all":
        # With no hold-out, load_folder's training split is every readable image.
        everything, _ = load_folder(Path(data_dir), image_size, 0)
        return everything
    train, heldout = load_folder(Path(data_dir), image_size, holdout_every)
    chosen = train if split == "train" else heldout
    if len(chosen) == 0:
        raise DataError(
            f"No held-out images in {data_dir} with holdout_every={holdout_every}; "
            "pass --holdout-every K > 0 or --split all."
        )
    return chosen


@torch.inference_mode()
def reconstruct_split(model: VAEGAN, split: Split, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Reconstructions of every image of a split: (N, 3, S, S) float in [-1, 1], on CPU."""
    outs = []
    for start in range(0, len(split), batch_size):
        x = split.batch(torch.arange(start, min(start + batch_size, len(split))))
        outs.append(model.reconstruct(x.to(model.device)).float().cpu())
    return torch.cat(outs)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else None


def _clean(value: float) -> float | None:
    """NaN becomes None, so the JSON stays valid."""
    return None if math.isnan(value) else value


def summarize(names: list[str], x: torch.Tensor, x_rec: torch.Tensor) -> dict:
    """Means and per-image metrics; x and x_rec (N, 3, S, S) in [-1, 1].

    The shape matches the "train"/"heldout" entries of an export's metrics.json.
    """
    values = image_metrics(x, x_rec)
    per_image = {name: {k: _clean(values[k][i]) for k in METRICS} for i, name in enumerate(names)}
    return {"mean": {k: _mean(values[k]) for k in METRICS}, "per_image": per_image}


def evaluate(
    model: VAEGAN | str | Path,
    data_dir: str | Path,
    holdout_every: int = 0,
    split: str = "all",
    batch_size: int = BATCH_SIZE,
) -> dict:
    """Metrics of a model (object, folder or Hub id) on a split of a data folder.

    Returns {"model", "data", "split", "holdout_every", "image_size", "count",
    "mean": {metric: float}, "per_image": {name: {metric: float | None}}}.
    Raises ModelLoadError or DataError with a message for the user.
    """
    result, _, _ = evaluate_with_images(model, data_dir, holdout_every, split, batch_size)
    return result


def evaluate_with_images(
    model: VAEGAN | str | Path,
    data_dir: str | Path,
    holdout_every: int,
    split: str,
    batch_size: int,
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """evaluate() plus the inputs and reconstructions, (N, 3, S, S) in [-1, 1]."""
    name = str(model) if not isinstance(model, VAEGAN) else "(in memory)"
    if not isinstance(model, VAEGAN):
        model = VAEGAN.from_pretrained(model)
    model.eval()
    size = model.config.image_size
    chosen = select_split(Path(data_dir), size, holdout_every, split)
    x = chosen.batch(torch.arange(len(chosen)))
    x_rec = reconstruct_split(model, chosen, batch_size)
    result = {
        "model": name,
        "data": str(data_dir),
        "split": split,
        "holdout_every": holdout_every,
        "image_size": size,
        "count": len(chosen),
        **summarize(chosen.names, x, x_rec),
    }
    logger.info("Evaluated %d %s image(s) of %s", len(chosen), split, data_dir)
    return result, x, x_rec


def save_pairs_grid(
    x: torch.Tensor, x_rec: torch.Tensor, path: Path, columns: int = GRID_COLUMNS
) -> None:
    """Row pairs of up to `columns` inputs above their reconstructions, in [-1, 1].

    The last row pair is filled up with white tiles.
    """
    count = x.shape[0]
    columns = max(1, min(columns, count))
    blank = torch.ones_like(x[:1])
    rows = []
    for start in range(0, count, columns):
        filler = blank.expand(columns - min(columns, count - start), -1, -1, -1)
        rows += [
            torch.cat([x[start : start + columns], filler]),
            torch.cat([x_rec[start : start + columns], filler]),
        ]
    tiles = (torch.cat(rows).float().clamp(-1, 1) + 1) / 2
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(tiles, nrow=columns, padding=2, pad_value=1.0), path)


def write_csv(result: dict, path: Path) -> None:
    """One row per image: name, psnr, ssim, sharpness (empty for NaN)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", *METRICS])
        for name, values in result["per_image"].items():
            writer.writerow(
                [name, *("" if values[k] is None else f"{values[k]:.6f}" for k in METRICS)]
            )


def means_table(result: dict) -> str:
    """A few lines for the terminal: what was evaluated and the three means."""
    m = result["mean"]

    def fmt(value: float | None, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    return "\n".join(
        [
            f"{result['count']} {result['split']} image(s) of {result['data']} "
            f"(holdout every {result['holdout_every']}), model {result['model']} "
            f"at {result['image_size']} px",
            f"  PSNR       {fmt(m['psnr'], '.2f')} dB",
            f"  SSIM       {fmt(m['ssim'], '.4f')}",
            f"  sharpness  {fmt(m['sharpness'], '.3f')}",
        ]
    )


def default_holdout(model: str) -> int:
    """K from an exported training folder's metrics.json; 0 when there is none."""
    path = Path(model) / "metrics.json"
    if not path.is_file():
        return 0
    try:
        k = int(json.loads(path.read_text())["settings"]["holdout_every"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return 0
    logger.info("Holding out every %d-th image, as %s records", k, path)
    return k


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="exported model folder or Hub repo id")
    p.add_argument("--data", type=Path, required=True, help="folder tree of images")
    p.add_argument(
        "--holdout-every",
        type=int,
        help="hold out every K-th image (default: MODEL/metrics.json, else 0)",
    )
    p.add_argument("--split", choices=SPLITS, help="default: heldout when K > 0, else all")
    p.add_argument("--json", type=Path, help="write means and per-image values here")
    p.add_argument("--csv", type=Path, help="write one row per image here")
    p.add_argument("--grid", type=Path, help="write inputs over reconstructions (PNG) here")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    k = args.holdout_every if args.holdout_every is not None else default_holdout(args.model)
    split = args.split or ("heldout" if k > 0 else "all")
    try:
        if args.batch_size < 1:
            raise ValueError("--batch-size must be positive")
        result, x, x_rec = evaluate_with_images(args.model, args.data, k, split, args.batch_size)
    except (ModelLoadError, OSError, ValueError) as err:  # DataError is a ValueError
        logger.error("%s", err)
        return 2
    print(means_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.csv:
        write_csv(result, args.csv)
    if args.grid:
        save_pairs_grid(x, x_rec, args.grid)
    for path in (args.json, args.csv, args.grid):
        if path:
            logger.info("Wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
