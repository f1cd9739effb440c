"""Every endpoint through gradio_client, against `python app.py` served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.app_fixtures import pixels, save_small_model, serve_app, write_poster

SIZE = 64  # app_fixtures.SMALL's resolution
UPLOAD_LIMIT = 20 * 1024 * 1024  # app.MAX_FILE_SIZE, "20mb", as Gradio counts it

pytestmark = pytest.mark.slow


class Served(NamedTuple):
    url: str
    log: Path
    tmp: Path  # the server's TMPDIR, which holds its workdir


@contextlib.contextmanager
def served(root: Path) -> Iterator[Served]:
    """A small model served by `python app.py`, its temporary files kept under root."""
    model = save_small_model(root / "model")
    tmp = root / "tmp"
    tmp.mkdir()
    log = root / "app.log"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TMPDIR", str(tmp))  # serve_app passes the environment on
        with serve_app(model, log) as url:
            yield Served(url, log, tmp)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("served")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Served) -> Client:
    return Client(server.url, verbose=False)


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Square A and B (their reconstructions are square, as frames are), a tall one and
    inputs the app must refuse."""
    root = tmp_path_factory.mktemp("posters")
    (root / "notes.png").write_text("not an image, whatever the name says")
    Image.new("RGB", (10, 10), "blue").save(root / "tiny.png")
    return {
        "a": write_poster(root / "a.png", 1, (100, 100)),
        "b": write_poster(root / "b.png", 2, (100, 100)),
        "tall": write_poster(root / "tall.png", 3, (90, 126)),
        "text": root / "notes.png",
        "tiny": root / "tiny.png",
    }


def upload(path: Path) -> dict:
    return handle_file(str(path))


def assert_png(path: str, size: tuple[int, int]) -> None:
    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", size)


def test_reconstruct_returns_a_png_in_the_input_aspect_and_scores(
    client: Client, posters: dict[str, Path]
) -> None:
    path, report = client.predict(upload(posters["tall"]), api_name="/reconstruct")
    # 90 x 126 with its long side at twice the model's 64 px: 91 x 128.
    assert_png(path, (round(90 * 2 * SIZE / 126), 2 * SIZE))
    assert re.search(r"PSNR \d+\.\d dB · SSIM -?\d\.\d{3}", report), report


def test_slider_frame_runs_from_one_reconstruction_to_the_other(
    client: Client, posters: dict[str, Path]
) -> None:
    a, b = upload(posters["a"]), upload(posters["b"])
    recon_a = pixels(client.predict(a, api_name="/reconstruct")[0])
    recon_b = pixels(client.predict(b, api_name="/reconstruct")[0])
    frames = {}
    for t in (0.0, 0.4, 1.0):
        path, status = client.predict(a, b, t, "slerp", api_name="/frame")
        assert_png(path, (2 * SIZE, 2 * SIZE))
        assert f"{round(100 * t)}% of the way from A to B" in status
        frames[t] = pixels(path)
    assert np.abs(frames[0.0] - recon_a).max() <= 1
    assert np.abs(frames[1.0] - recon_b).max() <= 1
    assert np.abs(frames[0.4] - recon_a).mean() > 5
    assert np.abs(frames[0.4] - recon_b).mean() > 5


def test_morph_returns_the_strip_and_an_animated_gif(
    client: Client, posters: dict[str, Path]
) -> None:
    strip, gif = client.predict(
        upload(posters["a"]), upload(posters["tall"]), 6, "lerp", api_name="/morph"
    )
    assert_png(strip, (6 * SIZE, SIZE))
    with Image.open(gif) as animation:
        assert (animation.format, animation.n_frames) == ("GIF", 2 * 6 - 2)
        assert animation.size == (2 * SIZE, 2 * SIZE)


def test_dream_returns_the_same_posters_for_the_same_seed(client: Client) -> None:
    first = client.predict(5, 3, api_name="/dream")
    again = client.predict(5, 3, api_name="/dream")
    assert len(first) == len(again) == 3
    for x, y in zip(first, again, strict=True):
        assert_png(x["image"], (2 * SIZE, 2 * SIZE))
        assert np.array_equal(pixels(x["image"]), pixels(y["image"]))
    assert np.abs(pixels(first[0]["image"]) - pixels(first[1]["image"])).mean() > 5


@pytest.mark.parametrize(
    ("name", "api_name", "message"),
    [
        ("text", "/reconstruct", "This is not an image file that can be read"),
        ("tiny", "/reconstruct", "The image is too small: 10x10 pixels"),
        ("text", "/frame", "This is not an image file that can be read"),
    ],
)
def test_refused_uploads_get_a_message_and_the_app_keeps_serving(
    client: Client,
    server: Served,
    posters: dict[str, Path],
    name: str,
    api_name: str,
    message: str,
) -> None:
    inputs = [upload(posters[name])]
    if api_name == "/frame":
        inputs = [upload(posters["a"]), *inputs, 0.5, "slerp"]
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(*inputs, api_name=api_name)
    path, _ = client.predict(upload(posters["a"]), api_name="/reconstruct")
    assert_png(path, (2 * SIZE, 2 * SIZE))
    # A refusal is no crash: nothing in the server's log but the one-line warning.
    assert "Traceback" not in server.log.read_text()


def test_uploads_are_limited_to_20_mb(
    client: Client, server: Served, posters: dict[str, Path], tmp_path: Path
) -> None:
    with urllib.request.urlopen(server.url + "config", timeout=30) as response:
        assert json.load(response)["max_file_size"] == UPLOAD_LIMIT
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(UPLOAD_LIMIT + 1)
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict(upload(big), api_name="/reconstruct")


def test_stopping_the_server_removes_its_workdir(tmp_path: Path) -> None:
    # SIGTERM is how hosts (and serve_app) stop the app; its files must go with it.
    with served(tmp_path) as running:
        assert len(list(running.tmp.glob("poster-vaegan-*"))) == 1
    assert list(running.tmp.glob("poster-vaegan-*")) == []
    assert "Traceback" not in running.log.read_text()
