"""The one image function: every kind of file a user may upload."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaegan.images import (
    MAX_PIXELS,
    MIN_SIDE,
    ImageError,
    open_image,
    save_png,
    to_pil,
    to_tensor,
)

from .conftest import poster


def _bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_rgba_lands_on_white_not_black():
    image = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    assert open_image(image).getpixel((5, 5)) == (255, 255, 255)


def test_la_and_palette_with_transparency_land_on_white():
    assert open_image(Image.new("LA", (40, 40), (0, 0))).getpixel((1, 1)) == (255, 255, 255)
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    data = _bytes(palette, "PNG", transparency=0)
    assert open_image(data).getpixel((1, 1)) == (255, 255, 255)


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (48, 48), (0, 255, 255, 0))  # red ink
    red = open_image(_bytes(cmyk, "JPEG"))
    assert red.mode == "RGB"
    r, g, b = red.getpixel((10, 10))
    assert r > 200
    assert g < 60
    assert b < 60


def test_16_bit_grayscale_is_scaled_not_clipped():
    values = np.full((40, 40), 32768, dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    out = open_image(_bytes(image, "PNG"))
    assert out.getpixel((3, 3)) == (128, 128, 128)


def test_grayscale_becomes_rgb():
    assert open_image(Image.new("L", (40, 40), 77)).getpixel((0, 0)) == (77, 77, 77)


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (60, 40), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    upright = open_image(_bytes(image, "JPEG", exif=exif))
    assert upright.size == (40, 60)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0))]
    data = _bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    r, g, _ = open_image(data).getpixel((5, 5))
    assert r > 200
    assert g < 50


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a PNG", "not an image"),
        (b"PK\x03\x04" + b"\x00" * 64, "not an image"),
    ],
    ids=["empty", "text", "zip"],
)
def test_non_images_are_refused(data: bytes, message: str):
    with pytest.raises(ImageError, match=message):
        open_image(data)


def test_truncated_jpeg_is_refused():
    data = _bytes(poster(1, (200, 200)), "JPEG")
    with pytest.raises(ImageError, match="could not be decoded"):
        open_image(data[: len(data) // 2])


def test_too_small_is_refused():
    with pytest.raises(ImageError, match=f"at least {MIN_SIDE}"):
        open_image(_bytes(Image.new("RGB", (1, 1)), "PNG"))


def test_decompression_bomb_is_refused_from_the_header():
    side = int(MAX_PIXELS**0.5) + 100
    bomb = _bytes(Image.new("1", (side, side)), "PNG")  # a few KB on disk
    assert len(bomb) < 2_000_000
    with pytest.raises(ImageError, match="too large"):
        open_image(bomb)


def test_paths_and_missing_files(tmp_path: Path):
    path = tmp_path / "p.jpg"
    poster(0).save(path)
    assert open_image(path).size == (60, 84)
    with pytest.raises(ImageError, match="No such file"):
        open_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        open_image(tmp_path / "empty.png")


def test_to_tensor_stretches_to_the_square_in_range():
    x = to_tensor(poster(2, (90, 150)), 64)
    assert x.shape == (3, 64, 64)
    assert x.dtype == torch.float32
    assert x.min() >= -1.0
    assert x.max() <= 1.0


def test_pil_round_trip_is_exact():
    image = poster(5, (64, 64))
    assert np.array_equal(np.asarray(to_pil(to_tensor(image, 64))), np.asarray(image))


def test_fast_png_is_lossless(tmp_path: Path):
    image = poster(6, (96, 80))
    save_png(image, tmp_path / "out.png")
    buffer = io.BytesIO()
    save_png(image, buffer)

    for source in (tmp_path / "out.png", io.BytesIO(buffer.getvalue())):
        with Image.open(source) as back:
            assert back.format == "PNG"
            assert np.array_equal(np.asarray(back.convert("RGB")), np.asarray(image))
