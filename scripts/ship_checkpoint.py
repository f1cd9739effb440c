"""Turn a finished run's export into a shipped checkpoint folder with its model card.

    python scripts/ship_checkpoint.py --run runs/posters-128 --data DATA_DIR \
        --sources DATA_DIR/sources.csv --name posters-128 --command "python -m train ..."

Writes checkpoints/NAME/: config.json, model.safetensors, metrics.json, the grids,
a morph strip and README.md. Weights over 20 MB are stored as fp16.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torchvision.utils import make_grid

from train.card import render_card
from train.data import list_images, split_indices
from train.evaluate import evaluate_with_images, save_pairs_grid
from vaegan import VAEGAN, to_pil

ROOT = Path(__file__).resolve().parent.parent
MAX_WEIGHTS_BYTES = 20 * 1024 * 1024
FILES = (
    "config.json",
    "model.safetensors",
    "metrics.json",
    "metrics.csv",
    "generated.png",
    "losses.png",
    "metrics.png",
)
TRAIN_GRID_COUNT = 16  # the whole training split would make a 3,000 px tall grid

DATA_NOTE = (
    "108 real posters (Soviet propaganda and film posters, constructivist works, pre-1940 "
    "posters), at most 800 px on the long side; each file's source repository, commit, path "
    "and crop box are in the project's `docs/training-data.csv`. Every 10th image of the "
    "list sorted by path (10 in all) was held out. Neither source repository states a "
    "licence; the works are third-party: most pre-1930 ones are in the public domain in "
    "many countries, the later Soviet posters' status varies."
)


def heldout_notes(data: Path, sources: Path, holdout_every: int) -> dict[str, str]:
    """Mark held-out posters cropped from the same scan as a training poster."""
    names = [p.relative_to(data).as_posix() for p in list_images(data)]
    train_idx, held_idx = split_indices(len(names), holdout_every)
    with open(sources, newline="") as f:
        scan = {r["file"]: r["source"] for r in csv.DictReader(f) if r.get("crop_box")}
    notes = {}
    for i in held_idx:
        name = names[i]
        siblings = [
            names[j] for j in train_idx if name in scan and scan.get(names[j]) == scan[name]
        ]
        if siblings:
            notes[name] = "cut from the same scan as training poster " + ", ".join(siblings)
    return notes


def morph_strip(model: VAEGAN, a: Path, b: Path, out: Path, steps: int = 8) -> None:
    frames = model.interpolate(model.encode_image(a), model.encode_image(b), steps, "slerp")
    to_pil(make_grid(frames, nrow=steps, padding=2, pad_value=1.0)).save(out)


def check_and_draw(model: VAEGAN, out: Path, data: Path, holdout_every: int) -> None:
    """Measure both splits with train.evaluate, check the export agrees, draw the grids."""
    exported = json.loads((out / "metrics.json").read_text())
    for split, grid in (("train", "reconstructed.png"), ("heldout", "heldout.png")):
        result, x, x_rec = evaluate_with_images(model, data, holdout_every, split, 32)
        for key, value in result["mean"].items():
            if abs(value - exported[split]["mean"][key]) > 1e-3:
                raise SystemExit(f"{split} {key}: evaluate gives {value}, the export {exported}")
        count = TRAIN_GRID_COUNT if split == "train" else len(x)
        save_pairs_grid(x[:count], x_rec[:count], out / grid)


def shrink_weights(path: Path) -> None:
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in load_file(path).items()}
        save_file(weights, path, metadata={"format": "pt"})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--sources", type=Path, required=True)
    p.add_argument("--name", default="posters-128")
    p.add_argument("--holdout-every", type=int, default=10)
    p.add_argument("--command", required=True, help="the training command, for the card")
    p.add_argument(
        "--morph",
        nargs=2,
        default=["soviet", "vintage"],
        help="folders (or names) to pick the morph's two training posters from",
    )
    args = p.parse_args()

    out = ROOT / "checkpoints" / args.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in FILES:
        shutil.copy(args.run / "model" / name, out / name)
    shrink_weights(out / "model.safetensors")

    model = VAEGAN.from_pretrained(out)
    check_and_draw(model, out, args.data, args.holdout_every)
    images = list_images(args.data)
    picks = [
        next(p for p in images if p.relative_to(args.data).as_posix().startswith(prefix))
        for prefix in args.morph
    ]
    morph_strip(model, picks[0], picks[1], out / "morph.png")

    card = render_card(
        out,
        title=f"poster-vaegan: {args.name}",
        data_note=DATA_NOTE,
        command=args.command,
        heldout_notes=heldout_notes(args.data, args.sources, args.holdout_every),
    )
    (out / "README.md").write_text(card)
    print(f"Wrote {out}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
