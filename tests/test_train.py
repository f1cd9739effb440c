"""The training command end to end on tiny generated folders, plus its parts."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from pathlib import Path

import pytest
import torch

import train.trainer as trainer_module
from train.__main__ import main
from train.augment import augment
from train.config import TrainConfig, resolve
from train.data import Split, split_indices
from train.trainer import Trainer
from vaegan import VAEGAN

from .conftest import TINY, make_folder

TINY_FLAGS = ["--image-size", "32", "--batch-size", "4", "--seed", "3"]


def run(data: Path, out: Path, *extra: str) -> int:
    return main(["--data", str(data), "--out", str(out), *TINY_FLAGS, *extra])


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_short_run_writes_snapshots_checkpoint_and_export(image_folder: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert (
        run(image_folder, out, "--epochs", "2", "--snapshot-every", "1", "--holdout-every", "5")
        == 0
    )

    for name in ("reconstructed", "generated", "heldout"):
        assert (out / f"{name}_epoch0001.png").is_file()
        assert (out / f"{name}_epoch0002.png").is_file()
    assert (out / "losses.png").is_file()
    assert [r["epoch"] for r in rows(out / "losses.csv")] == ["1", "2"]
    curve = rows(out / "metrics.csv")
    assert [r["images"] for r in curve] == ["8", "16"]
    assert {"train/psnr", "train/ssim", "heldout/psnr", "heldout/sharpness"} <= set(curve[0])
    assert float(curve[-1]["train/psnr"]) > 0
    assert (out / "metrics.png").is_file()
    assert (out / "checkpoint" / "state.pt").is_file()

    export = out / "model"
    model = VAEGAN.from_pretrained(export)
    assert model.config.image_size == 32
    metrics = json.loads((export / "metrics.json").read_text())
    assert metrics["images_shown"] == 2 * 8  # 8 training images, 2 held out
    # Sorted by relative path, the 5th and 10th files are held out.
    assert set(metrics["heldout"]["per_image"]) == {"poster07.png", "sub/poster09.png"}
    assert metrics["train"]["mean"]["psnr"] > 0
    assert {"reconstructed.png", "heldout.png", "generated.png"} <= {
        p.name for p in export.iterdir()
    }


def test_flags_beat_the_preset_and_settings_are_saved(image_folder: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert run(image_folder, out, "--preset", "seed", "--images", "8", "--latent-dim", "6") == 0
    saved = TrainConfig.load(out / "settings.json")
    assert saved.preset == "seed"
    assert saved.model.kernel_size == 3
    assert saved.model.norm == "batch"
    assert saved.model.latent_dim == 6
    assert saved.batch_size == 4
    assert saved.images == 8


@pytest.mark.parametrize("preset", ["paper", "vae"])
def test_other_presets_train(preset: str, image_folder: Path, tmp_path: Path):
    assert run(image_folder, tmp_path / "run", "--preset", preset, "--images", "8") == 0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_resume_continues_from_the_saved_step(image_folder: Path, tmp_path: Path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    # A constant rate: a cosine one depends on the run's planned length, which differs.
    steady = ("--lr-decay", "none", "--snapshot-every", "2")
    assert run(image_folder, whole, "--epochs", "4", *steady) == 0
    assert run(image_folder, parts, "--epochs", "2", *steady) == 0
    state = torch.load(parts / "checkpoint" / "state.pt", weights_only=True)
    assert state["counters"]["step"] == 2 * 3  # 10 images in batches of 4, 4, 2

    # Flags other than the length are ignored on resume: the saved settings win.
    assert run(image_folder, parts, "--epochs", "4", "--resume", "--batch-size", "2") == 0
    resumed = torch.load(parts / "checkpoint" / "state.pt", weights_only=True)
    assert resumed["counters"]["step"] == 4 * 3
    assert [r["epoch"] for r in rows(parts / "losses.csv")] == ["1", "2", "3", "4"]
    # Same data order, noise and augmentation: the losses match an uninterrupted run.
    for a, b in zip(rows(whole / "losses.csv"), rows(parts / "losses.csv"), strict=True):
        assert float(a["train/rec_loss"]) == pytest.approx(float(b["train/rec_loss"]), rel=1e-4)


def test_missing_folder_and_too_few_images(tmp_path: Path, caplog):
    assert run(tmp_path / "nowhere", tmp_path / "run") == 2
    assert "Data folder not found" in caplog.text

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    (broken / "b.jpg").write_bytes(b"")
    assert run(broken, tmp_path / "run2") == 2
    assert "at least 2 are needed" in caplog.text


def test_unreadable_files_are_skipped_and_named(tmp_path: Path, caplog):
    data = make_folder(tmp_path / "data", 4, nested=False)
    (data / "zz-broken.png").write_bytes(b"garbage")
    (data / "notes.txt").write_text("not an image suffix: ignored quietly")
    with caplog.at_level(logging.WARNING):
        assert run(data, tmp_path / "run", "--images", "4") == 0
    assert "Skipped 1 unreadable file(s): zz-broken.png" in caplog.text


def test_nan_stops_training_naming_the_step(
    image_folder: Path, tmp_path: Path, monkeypatch, caplog
):
    out = tmp_path / "run"
    assert run(image_folder, out, "--epochs", "1") == 0
    checkpoint = out / "checkpoint" / "state.pt"
    before = hashlib.sha256(checkpoint.read_bytes()).hexdigest()

    real_rec_loss = trainer_module.rec_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real_rec_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(trainer_module, "rec_loss", poisoned)
    assert run(image_folder, out, "--epochs", "3", "--resume") == 3
    assert "Non-finite loss (rec, enc, dec) at step 5" in caplog.text
    assert hashlib.sha256(checkpoint.read_bytes()).hexdigest() == before


def test_collapse_warning_is_rate_limited(image_folder: Path, caplog):
    from train.config import resolve

    cfg = resolve("default", {}, {"image_size": 32})
    images = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    trainer = Trainer(cfg, Split(images, list("abcd")), Split(images[:0], []), Path("unused"))
    with caplog.at_level(logging.WARNING):
        for step in range(3000):
            trainer.step = step
            trainer._watch_collapse(0.0)
    assert caplog.text.count("Discriminator loss has stayed near zero") == 2


def test_holdout_takes_every_kth_image():
    assert split_indices(10, 5) == ([0, 1, 2, 3, 5, 6, 7, 8], [4, 9])
    assert split_indices(3, 0) == ([0, 1, 2], [])


def test_augment_applies_one_draw_to_paired_batches():
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    a, b = augment([x, x.clone()], "color,translation,cutout", torch.Generator().manual_seed(0))
    assert a.shape == x.shape
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, x)
    a.sum().backward()
    assert x.grad is not None
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment([x], "flip")


def test_cosine_decay_runs_from_lr_to_its_floor():
    images = torch.zeros(8, 3, 32, 32, dtype=torch.uint8)
    split = Split(images, [str(i) for i in range(8)])
    cfg = TrainConfig(model=TINY, images=80, lr=1e-3, d_lr=2e-4, lr_decay="cosine")
    trainer = Trainer(cfg, split, Split(images[:0], []), Path("unused"))
    scales = []
    for seen in (0, 40, 80, 160):
        trainer.images_seen = seen
        trainer._set_lr()
        scales.append(trainer.lr_scale())
    assert scales == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert trainer.opt_vae.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert trainer.opt_disc.param_groups[0]["lr"] == pytest.approx(2e-5)


def test_unknown_lr_decay_is_refused():
    with pytest.raises(ValueError, match="lr_decay"):
        resolve("default", {"lr_decay": "step"}, {})
