"""Helpers shared by the app's tests: a small model, posters, a free port, a running app.

Plain functions rather than fixtures, so each test module wraps them in fixtures of the
scope it needs without importing fixture objects across modules.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench.common import QUIET_ENV, free_port, stop, wait_until_up
from vaegan import VAEGAN, ModelConfig

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SMALL = ModelConfig(image_size=64, latent_dim=8)
# Debian's Chromium: Playwright must not download browsers of its own.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 180  # importing gradio and torch is slow beside a training job

# No analytics or Hub calls from anything the tests start.
os.environ.update(QUIET_ENV)


def save_small_model(folder: Path, seed: int = 0) -> Path:
    """A seeded, untrained 64 px model with an 8-number latent, saved to folder.

    An untrained network's output hardly depends on its input (every poster decodes to
    the same grey), so its weights are scaled up: different posters then decode to
    visibly different images, and a morph visibly changes along the way.
    """
    torch.manual_seed(seed)
    model = VAEGAN(SMALL).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(3.0)
    model.save_pretrained(folder)
    return folder


def poster(seed: int, size: tuple[int, int] = (60, 84)) -> Image.Image:
    """A deterministic poster-like picture: flat background, bands and a disc."""
    rng = np.random.default_rng(seed)
    colours = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(3)]
    image = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(image)
    w, h = size
    top = int(rng.integers(0, h // 2))
    draw.rectangle([0, top, w, top + h // 5], fill=colours[1])
    cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), w // 4
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colours[2])
    return image


def write_poster(path: Path, seed: int, size: tuple[int, int] = (90, 126)) -> Path:
    """poster(seed, size) saved at path (format from its suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    poster(seed, size).save(path)
    return path


def pixels(path: str | Path) -> np.ndarray:
    """An image file as an (H, W, 3) int16 array, so differences do not wrap around."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def example_path(name: str) -> Path:
    """A bundled example poster by file name."""
    return EXAMPLES / name


@contextlib.contextmanager
def serve_app(model_dir: Path, log_path: Path, *extra: str) -> Iterator[str]:
    """Run `python app.py --model DIR [extra flags]` on a free port; yield its URL, stop it
    after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [
        sys.executable,
        "app.py",
        "--model",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **QUIET_ENV}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                wait_until_up(url, START_TIMEOUT_S, proc)
            except (RuntimeError, TimeoutError) as err:
                raise RuntimeError(f"{err}; its log:\n{log_path.read_text()[-3000:]}") from err
            yield url
        finally:
            stop(proc, timeout_s=20)
