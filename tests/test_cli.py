"""`python -m vaegan`: reconstruct, morph and sample from the command line."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from vaegan.cli import main

from .conftest import poster


def test_reconstruct_keeps_the_aspect_ratio(saved_model: Path, tmp_path: Path):
    src, dst = tmp_path / "in.jpg", tmp_path / "out.png"
    poster(1, (60, 90)).save(src)
    assert main(["--model", str(saved_model), "reconstruct", str(src), str(dst)]) == 0
    assert Image.open(dst).size == (43, 64)  # long side twice the 32 px model


def test_morph_writes_an_animated_gif(saved_model: Path, tmp_path: Path):
    a, b, gif = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "m.gif"
    poster(1).save(a)
    poster(2).save(b)
    args = ["--model", str(saved_model), "morph", str(a), str(b), str(gif), "--steps", "5"]
    assert main(args) == 0
    image = Image.open(gif)
    assert image.n_frames == 8  # 5 forth, 3 back
    assert image.size == (32, 32)


def test_sample_grid(saved_model: Path, tmp_path: Path):
    assert main(["--model", str(saved_model), "sample", str(tmp_path / "s.png"), "--n", "4"]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 32


def test_bad_input_is_a_clear_error(saved_model: Path, tmp_path: Path, caplog):
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    assert (
        main(["--model", str(saved_model), "reconstruct", str(bad), str(tmp_path / "o.png")]) == 2
    )
    assert "not an image file" in caplog.text
    assert main(["--model", str(tmp_path), "sample", str(tmp_path / "o.png")]) == 2
    assert "no config.json" in caplog.text
