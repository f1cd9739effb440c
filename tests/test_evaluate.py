"""`python -m train.evaluate`: the same images as training, their metrics and grids."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from train.data import load_folder
from train.evaluate import evaluate, main
from vaegan import VAEGAN, ModelConfig
from vaegan.metrics import image_metrics

from .conftest import make_folder

SIZE = 64


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    VAEGAN(ModelConfig(image_size=SIZE, latent_dim=8)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Nine posters, some in a subfolder, plus a broken file training skips."""
    root = make_folder(tmp_path_factory.mktemp("data") / "posters", 9)
    (root / "broken.jpg").write_text("not an image")
    return root


def test_cli_heldout_matches_training_split(model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--model", str(model_dir), "--data", str(data_dir), "--holdout-every", "3",
            "--split", "heldout", "--json", str(out / "m.json"), "--csv", str(out / "m.csv"),
            "--grid", str(out / "g.png"), "--batch-size", "2"]  # fmt: skip
    assert main(args) == 0
    _, heldout = load_folder(data_dir, SIZE, 3)
    assert len(heldout) == 3

    result = json.loads((out / "m.json").read_text())
    assert list(result["per_image"]) == heldout.names
    assert result["count"] == 3
    assert (result["split"], result["holdout_every"], result["image_size"]) == ("heldout", 3, SIZE)
    assert result["model"] == str(model_dir)
    assert result["data"] == str(data_dir)
    for key in ("psnr", "ssim", "sharpness"):
        values = [m[key] for m in result["per_image"].values()]
        assert result["mean"][key] == pytest.approx(sum(values) / len(values))

    with open(out / "m.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == heldout.names
    assert float(rows[0]["psnr"]) == pytest.approx(result["per_image"][rows[0]["name"]]["psnr"])

    with Image.open(out / "g.png") as grid:
        # 3 columns and one row pair of 64 px tiles with 2 px padding.
        assert grid.size == (3 * 66 + 2, 2 * 66 + 2)
    assert "PSNR" in capsys.readouterr().out


def test_function_matches_metrics_computed_by_hand(model_dir, data_dir):
    model = VAEGAN.from_pretrained(model_dir)
    result = evaluate(model, data_dir, holdout_every=3, split="train")
    train, _ = load_folder(data_dir, SIZE, 3)
    assert list(result["per_image"]) == train.names
    assert len(train) == 6
    x = train.batch(torch.arange(len(train)))
    expected = image_metrics(x, model.reconstruct(x))
    for i, name in enumerate(train.names):
        for key in ("psnr", "ssim", "sharpness"):
            assert result["per_image"][name][key] == pytest.approx(expected[key][i], abs=1e-5)
    assert all(not math.isnan(v) for v in result["mean"].values())


def test_defaults_read_the_holdout_and_write_nothing(model_dir, data_dir, tmp_path, capsys):
    exported = tmp_path / "export"
    exported.mkdir()
    for path in model_dir.iterdir():
        (exported / path.name).write_bytes(path.read_bytes())
    (exported / "metrics.json").write_text(json.dumps({"settings": {"holdout_every": 3}}))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["--model", str(exported), "--data", str(data_dir)]) == 0
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert "3 heldout image(s)" in capsys.readouterr().out


def test_all_split_wraps_the_grid(model_dir, data_dir, tmp_path):
    grid = tmp_path / "all.png"
    assert main(["--model", str(model_dir), "--data", str(data_dir), "--grid", str(grid)]) == 0
    with Image.open(grid) as image:
        # 9 images, 8 to a row: two row pairs, the last filled up with white.
        assert image.size == (8 * 66 + 2, 4 * 66 + 2)
        assert image.getpixel((image.width - 10, image.height - 10)) == (255, 255, 255)


def test_errors_are_clear(model_dir, data_dir, tmp_path, caplog):
    assert main(["--model", str(tmp_path), "--data", str(data_dir)]) == 2
    assert "no config.json" in caplog.text
    assert main(["--model", str(model_dir), "--data", str(tmp_path / "none")]) == 2
    assert "not found" in caplog.text
    args = ["--model", str(model_dir), "--data", str(data_dir), "--split", "heldout"]
    assert main(args) == 2
    assert "No held-out images" in caplog.text
