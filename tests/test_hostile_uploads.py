"""Hostile and odd uploads, as raw bytes through the API and through the page.

Every file here is either converted and used or refused with a message that says why,
and the server keeps answering everyone else. The app runs with a small upload limit
so that the file over it stays small.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.app_fixtures import pixels, save_small_model, serve_app, write_poster
from tests.test_app_browser import WAIT_MS, upload

SIZE = 64  # app_fixtures.SMALL's resolution
LIMIT_BYTES = 200 * 1024
LIMIT = "200kb"  # as Gradio counts it: 1 kb is 1024 bytes
BOMB_SIDE = 40_000  # 1.6 GP, 6.4 GB as RGBA: it must never be decoded

pytestmark = pytest.mark.slow

# Unusable files and the reason the app must give for each.
REFUSED = {
    "text.png": "This is not an image file that can be read",
    "archive.png": "This is not an image file that can be read",
    "truncated.jpg": "The image could not be decoded (image file is truncated",
    "empty.png": "The file is empty",
    "1x1.png": "The image is too small: 1x1 pixels",
    "bomb.png": "The image is too large",
}
# Usable odd files; each has a plain RGB PNG of what the app should see beside it.
USABLE = [
    "animated.gif",
    "animated.webp",
    "cmyk.jpg",
    "rgb16.png",
    "gray16.png",
    "palette.png",
    "alpha.png",
    "gray.png",
    "exif-rotated.jpg",
]


class Served(NamedTuple):
    url: str
    log: Path


# ------------------------------------------------------------------ the files


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def raw_png(width: int, height: int, depth: int, colour: int, idat: bytes) -> bytes:
    """A PNG written by hand, for what Pillow will not write (16-bit RGB, a bomb)."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def bomb_png(side: int) -> bytes:
    """A 74-byte PNG that claims side x side RGB pixels; only its header is real."""
    return raw_png(side, side, 8, 2, zlib.compress(b"\x00" * 1024))


def rgb16_png(image: Image.Image) -> bytes:
    """image as a 48-bit (16 bits per channel) RGB PNG."""
    values = np.asarray(image, dtype=np.uint16) * 257  # 0..255 -> 0..65535
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in values)
    return raw_png(image.width, image.height, 16, 2, zlib.compress(rows))


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    """image saved in format fmt, as bytes."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def zip_bytes() -> bytes:
    """A small, valid zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("poster.png", b"not really")
    return buf.getvalue()


def refused_files(posters: list[Image.Image]) -> dict[str, bytes]:
    """The unusable files' bytes by name."""
    jpeg = encoded(posters[0].resize((300, 300)), "JPEG", quality=90)
    return {
        "text.png": b"Just some notes, whatever the name says.\n",
        "archive.png": zip_bytes(),
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "empty.png": b"",
        "1x1.png": encoded(Image.new("RGB", (1, 1), "red"), "PNG"),
        "bomb.png": bomb_png(BOMB_SIDE),
    }


def usable_files(posters: list[Image.Image]) -> dict[str, tuple[bytes, Image.Image]]:
    """Each usable file's bytes and the upright RGB picture it holds, built independently."""
    first, second = posters[0], posters[1]
    cmyk = encoded(posters[2].convert("CMYK"), "JPEG", quality=95)
    gray16 = np.linspace(0, 65535, 100 * 120).reshape(120, 100).astype(np.uint16)
    gray8 = (gray16.astype(np.float64) / 65535 * 255 + 0.5).astype(np.uint8)
    alpha = posters[5].convert("RGBA")
    alpha.paste((0, 0, 0, 0), (0, 0, alpha.width // 2, alpha.height))  # left half clear
    on_white = posters[5].copy()
    on_white.paste((255, 255, 255), (0, 0, on_white.width // 2, on_white.height))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: shown rotated 90 degrees clockwise
    photo = encoded(posters[7], "JPEG", quality=95, exif=exif)
    palette = posters[4].convert("P", palette=Image.Palette.ADAPTIVE)  # exact: 3 colours
    animation = {"save_all": True, "append_images": [second], "duration": 100}
    return {
        "animated.gif": (encoded(first, "GIF", **animation), first),
        "animated.webp": (encoded(first, "WEBP", lossless=True, **animation), first),
        "cmyk.jpg": (cmyk, Image.open(io.BytesIO(cmyk)).convert("RGB")),
        "rgb16.png": (rgb16_png(posters[3]), posters[3]),
        "gray16.png": (encoded(Image.fromarray(gray16), "PNG"), Image.fromarray(gray8)),
        "palette.png": (encoded(palette, "PNG"), posters[4]),
        "alpha.png": (encoded(alpha, "PNG"), on_white),
        "gray.png": (encoded(posters[6].convert("L"), "PNG"), posters[6].convert("L")),
        # Decoded as stored, then turned upright by hand: 90 x 126 stored, 126 x 90 shown.
        "exif-rotated.jpg": (photo, Image.open(io.BytesIO(photo)).transpose(Image.ROTATE_270)),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every hostile file, each usable one's expected picture as `NAME.expected.png`, and
    a file just over the upload limit."""
    root = tmp_path_factory.mktemp("hostile")
    # Three flat colours: GIF's palette and the P conversion hold them exactly.
    posters = [Image.open(write_poster(root / f"p{i}.png", i, (90, 126))) for i in range(8)]
    paths = {}
    for name, data in refused_files(posters).items():
        paths[name] = root / name
        paths[name].write_bytes(data)
    for name, (data, expected) in usable_files(posters).items():
        paths[name] = root / name
        paths[name].write_bytes(data)
        expected.convert("RGB").save(root / f"{name}.expected.png")
        paths[f"{name}.expected"] = root / f"{name}.expected.png"
    paths["over-limit.png"] = root / "over-limit.png"
    with open(paths["over-limit.png"], "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(LIMIT_BYTES + 1)
    paths["poster"] = write_poster(root / "poster.png", 20, (100, 100))
    return paths


# ---------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    log = root / "app.log"
    model = save_small_model(root / "model")
    with serve_app(model, log, "--max-file-size", LIMIT) as url:
        yield Served(url, log)


@pytest.fixture(scope="module")
def client(server: Served) -> Client:
    return Client(server.url, verbose=False)


def reconstruct(client: Client, path: Path) -> tuple[str, str]:
    """/reconstruct on the raw file at path: (PNG path, report)."""
    return client.predict(handle_file(str(path)), api_name="/reconstruct")


def assert_no_traceback(server: Served) -> None:
    """A refusal is no crash: the log holds one-line warnings, never a traceback."""
    assert "Traceback" not in server.log.read_text()


# ------------------------------------------------------------------- the API


@pytest.mark.parametrize(("name", "message"), REFUSED.items(), ids=list(REFUSED))
def test_unusable_files_are_refused_with_their_reason(
    client: Client, server: Served, files: dict[str, Path], name: str, message: str
) -> None:
    with pytest.raises(AppError) as refused:
        reconstruct(client, files[name])
    assert str(refused.value).startswith(message)
    assert_no_traceback(server)


@pytest.mark.parametrize("name", USABLE)
def test_odd_but_usable_files_are_converted_and_used(
    client: Client, files: dict[str, Path], name: str
) -> None:
    path, report = reconstruct(client, files[name])
    want, _ = reconstruct(client, files[f"{name}.expected"])
    # The same picture in, the same reconstruction out: the file was read as intended
    # (first frame, alpha on white, CMYK and 16 bits converted, turned upright).
    got, expected = pixels(path), pixels(want)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1
    assert "PSNR" in report


def test_an_exif_rotated_photo_comes_back_upright(client: Client, files: dict[str, Path]) -> None:
    path, _ = reconstruct(client, files["exif-rotated.jpg"])
    with Image.open(path) as shown:
        # Stored 90 x 126; upright it is 126 x 90, the long side shown at 2 x 64 px.
        assert shown.size == (2 * SIZE, round(90 * 2 * SIZE / 126))


def test_a_bomb_in_a_morph_is_refused_too(client: Client, files: dict[str, Path]) -> None:
    good, bomb = handle_file(str(files["poster"])), handle_file(str(files["bomb.png"]))
    with pytest.raises(AppError, match="The image is too large"):
        client.predict(good, bomb, 0.5, "slerp", api_name="/frame")


def test_a_file_over_the_upload_limit_is_refused_before_it_lands(
    client: Client, server: Served, files: dict[str, Path]
) -> None:
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        reconstruct(client, files["over-limit.png"])
    # Raw bytes past the client's own check: the server refuses them with a reason.
    with open(files["over-limit.png"], "rb") as f:
        response = httpx.post(
            server.url + "gradio_api/upload", files={"files": ("big.png", f)}, timeout=60
        )
    assert response.status_code == 413
    assert "maximum allowed size" in response.text


def test_hostile_files_at_once_leave_others_served(
    client: Client, server: Served, files: dict[str, Path]
) -> None:
    hostile = [client.submit(handle_file(str(files[n])), api_name="/reconstruct") for n in REFUSED]
    good = [
        client.submit(handle_file(str(files["poster"])), api_name="/reconstruct") for _ in range(4)
    ]
    for name, job in zip(REFUSED, hostile, strict=True):
        with pytest.raises(AppError, match=re.escape(REFUSED[name])):
            job.result(timeout=120)
    for job in good:
        path, _ = job.result(timeout=120)
        assert pixels(path).shape == (2 * SIZE, 2 * SIZE, 3)
    assert_no_traceback(server)


# ------------------------------------------------------------------ the page


@pytest.fixture
def page(browser: Browser, server: Served) -> Iterator[Page]:
    page = browser.new_page()
    page.goto(server.url)
    yield page
    page.close()


# What the page must say for each refused file; the upload limit is checked in the page
# itself, before anything is sent.
PAGE_REFUSALS = {
    "text.png": REFUSED["text.png"],
    "1x1.png": REFUSED["1x1.png"],
    "bomb.png": REFUSED["bomb.png"],
    "over-limit.png": "exceed the maximum allowed size of 200.0 Kb",
}


@pytest.mark.browser
def test_the_page_shows_why_a_file_was_refused_and_goes_on(
    page: Page, files: dict[str, Path]
) -> None:
    for name, message in PAGE_REFUSALS.items():
        upload(page, "recon-input", files[name])
        toast = page.locator(".toast-body").filter(has_text=message)
        expect(toast).to_be_visible(timeout=WAIT_MS)
        expect(toast).not_to_contain_text("Traceback")
    # The page keeps working: a CMYK JPEG, odd but usable, reconstructs.
    upload(page, "recon-input", files["cmyk.jpg"])
    expect(page.locator("#recon-report")).to_contain_text("PSNR", timeout=WAIT_MS)
    expect(page.locator("#recon-output img")).to_be_visible()
