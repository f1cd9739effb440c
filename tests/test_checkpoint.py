"""The shipped checkpoint: it loads strictly and still reconstructs its posters.

These guard the demo: a change to the networks, the loader or the image function
that breaks the committed model fails here, not on the Space.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from vaegan import VAEGAN, to_tensor
from vaegan.metrics import image_metrics

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "posters-128"
EXAMPLES = ROOT / "examples"

# Floors well under what the checkpoint measured (its metrics.json), so that only a
# real regression trips them, not a change in the last bit of a library's resampling.
TRAIN_PSNR_FLOOR_DB = 20.0
HELDOUT_PSNR_FLOOR_DB = 11.0
ALLOWED = {"config.json", "model.safetensors", "metrics.json", "metrics.csv", "README.md"}


@pytest.fixture(scope="module")
def model() -> VAEGAN:
    return VAEGAN.from_pretrained(SHIPPED)


def examples_by_split() -> dict[str, list[Path]]:
    with open(EXAMPLES / "examples.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    splits: dict[str, list[Path]] = {}
    for row in rows:
        splits.setdefault(row["split"], []).append(EXAMPLES / row["file"])
    return splits


def test_the_folder_holds_only_config_weights_metrics_curves_card_and_pictures():
    names = {p.name for p in SHIPPED.iterdir()}
    assert names - ALLOWED <= {n for n in names if n.endswith(".png")}
    assert names >= ALLOWED
    assert (SHIPPED / "model.safetensors").stat().st_size <= 20 * 1024 * 1024


def test_loads_strictly_at_the_article_size(model: VAEGAN):
    assert model.config.image_size == 128
    assert model.config.latent_dim == 32
    assert not model.training
    assert model.device.type == "cpu"


@pytest.mark.parametrize(
    ("split", "floor"), [("train", TRAIN_PSNR_FLOOR_DB), ("heldout", HELDOUT_PSNR_FLOOR_DB)]
)
def test_bundled_examples_reconstruct_above_the_floor(model: VAEGAN, split: str, floor: float):
    paths = examples_by_split()[split]
    x = torch.stack([to_tensor(p, model.config.image_size) for p in paths])
    scores = image_metrics(x, model.reconstruct(x))
    assert min(scores["psnr"]) > floor, dict(
        zip([p.name for p in paths], scores["psnr"], strict=True)
    )


def test_the_examples_splits_agree_with_the_checkpoint():
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    with open(EXAMPLES / "examples.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            assert row["dataset_path"] in metrics[row["split"]]["per_image"], row["file"]
