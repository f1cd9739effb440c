"""`python -m train.prepare`: a messy download folder becomes a clean training folder."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vaegan.images
from train.data import list_images, load_folder
from train.prepare import main, sheet_path

from .conftest import poster


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mtime_ns) of every file and folder below root."""
    out = {}
    for p in sorted(root.rglob("*")):
        key = p.relative_to(root).as_posix()
        content = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[key] = (content, p.stat().st_mtime_ns)
    return out


def messy_raw(raw: Path) -> None:
    """Every kind of file a browser image downloader leaves behind."""
    (raw / "nested" / "deeper").mkdir(parents=True)
    poster(1, (300, 420)).save(raw / "z_large.jpg", quality=92)
    shutil.copy(raw / "z_large.jpg", raw / "z_large (1).jpg")  # exact duplicate
    poster(1, (150, 210)).save(raw / "a_small.png")  # near duplicate, sorts first
    poster(2, (20, 28)).save(raw / "thumb.jpg")  # below MIN_SIDE
    rgba = poster(3, (120, 160)).convert("RGBA")
    rgba.putalpha(0)  # fully transparent, then an opaque poster pasted inside
    rgba.paste(poster(3, (60, 80)).convert("RGBA"), (30, 40))
    rgba.save(raw / "alpha.png")
    poster(4, (100, 140)).convert("CMYK").save(raw / "cmyk.jpg")
    poster(5, (200, 280)).save(raw / "full.jpg")
    data = (raw / "full.jpg").read_bytes()
    (raw / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (raw / "notes.jpg").write_text("not a picture at all")
    poster(6, (90, 120)).save(raw / "nested" / "deeper" / "inner.png")
    poster(7, (1500, 900)).save(raw / "wide.png")  # above the 1024 px cap
    poster(8, (1400, 1400)).save(raw / "huge.png")  # above the patched pixel limit
    (raw / ".hidden.jpg").write_text("skipped: hidden")


@pytest.fixture
def prepared(tmp_path: Path, monkeypatch) -> tuple[Path, Path, dict, int]:
    # A small pixel limit stands in for 40 MP, which would be slow to write here.
    monkeypatch.setattr(vaegan.images, "MAX_PIXELS", 1_500_000)
    raw, data = tmp_path / "raw", tmp_path / "data"
    messy_raw(raw)
    before = tree_digest(raw)
    assert main([str(raw), str(data)]) == 0
    assert tree_digest(raw) == before, "RAW_DIR was modified"
    with open(data / "manifest.csv", newline="") as f:
        rows = {row["source"]: row for row in csv.DictReader(f)}
    return raw, data, rows, len(before)


def test_kept_set_and_reasons(prepared):
    _, data, rows, _ = prepared
    status = {name: row["status"] for name, row in rows.items()}
    assert status == {
        "a_small.png": "near-duplicate of z_large.jpg",
        "alpha.png": "kept",
        "cmyk.jpg": "kept",
        "z_large (1).jpg": "duplicate of z_large.jpg",
        "full.jpg": "kept",
        "huge.png": "too large",
        "nested/deeper/inner.png": "kept",
        "notes.jpg": "not an image",
        "thumb.jpg": "too small",
        "truncated.jpg": "broken",
        "wide.png": "kept",
        "z_large.jpg": "kept",
    }
    assert rows["z_large.jpg"]["size"] == "300x420"
    assert rows["z_large.jpg"]["sha256"] == rows["z_large (1).jpg"]["sha256"]
    assert rows["thumb.jpg"]["size"] == "20x28"
    kept = sorted(p.relative_to(data).as_posix() for p in list_images(data))
    assert kept == [
        "alpha.png",
        "cmyk.jpg",
        "full.jpg",
        "nested/deeper/inner.png",
        "wide.png",
        "z_large.jpg",
    ]
    assert kept == sorted(r["output"] for r in rows.values() if r["status"] == "kept")


def test_outputs_are_rgb_capped_and_keep_the_aspect(prepared):
    _, data, _, _ = prepared
    for path in list_images(data):
        with Image.open(path) as image:
            assert image.mode == "RGB"
            assert max(image.size) <= 1024
    with Image.open(data / "wide.png") as image:
        assert image.size == (1024, 614)
    with Image.open(data / "z_large.jpg") as image:
        assert image.size == (300, 420)
        assert image.format == "JPEG"
    with Image.open(data / "alpha.png") as image:
        # The transparent border was laid over white.
        assert image.getpixel((2, 2)) == (255, 255, 255)


def test_contact_sheet_and_training_sees_only_the_kept_images(prepared):
    _, data, _, _ = prepared
    sheet = sheet_path(data)
    assert sheet.parent == data.parent
    with Image.open(sheet) as image:
        assert image.width > 128 * 5
    train, _ = load_folder(data, 32)
    assert len(train) == 6


def test_near_duplicate_threshold_off_keeps_both(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    poster(1, (300, 420)).save(raw / "large.png")
    poster(1, (150, 210)).save(raw / "small.png")
    assert main([str(raw), str(tmp_path / "data"), "--threshold", "-1"]) == 0
    assert len(list_images(tmp_path / "data")) == 2


def test_name_clash_between_formats_is_resolved(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    poster(1).save(raw / "a.png")
    poster(9).save(raw / "a.gif")
    assert main([str(raw), str(tmp_path / "data")]) == 0
    names = sorted(p.name for p in list_images(tmp_path / "data"))
    assert names == ["a.png", "a_gif.png"]


@pytest.mark.parametrize("where", ["same", "inside"])
def test_refuses_data_dir_in_raw(tmp_path: Path, where: str, caplog):
    raw = tmp_path / "raw"
    raw.mkdir()
    poster(1).save(raw / "a.png")
    before = tree_digest(raw)
    data = raw if where == "same" else raw / "clean"
    assert main([str(raw), str(data)]) == 2
    assert "inside" in caplog.text
    assert tree_digest(raw) == before


def test_missing_raw_non_empty_data_and_empty_result(tmp_path: Path, caplog):
    assert main([str(tmp_path / "nope"), str(tmp_path / "data")]) == 2
    assert "not found" in caplog.text

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jpg").write_text("text")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(raw / "tiny.png")
    assert main([str(raw), str(tmp_path / "data")]) == 1
    assert "No usable image" in caplog.text
    assert "1 not an image" in caplog.text
    assert not (tmp_path / "data").exists()

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main([str(raw), str(busy)]) == 2
    assert "not empty" in caplog.text
