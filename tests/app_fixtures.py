"""Helpers shared by the app's tests: a small model, posters, a free port, a running app.

Plain functions rather than fixtures, so each test module wraps them in fixtures of the
scope it needs without importing fixture objects across modules.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

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
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
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


def write_poster(path: Path, seed: int, size: tuple[int, int] = (90, 126)) -> Path:
    """A deterministic poster-like picture (bands and a disc) saved at path."""
    rng = np.random.default_rng(seed)
    colours = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(3)]
    image = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(image)
    w, h = size
    top = int(rng.integers(0, h // 2))
    draw.rectangle([0, top, w, top + h // 4], fill=colours[1])
    cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), min(w, h) // 3
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colours[2])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def pixels(path: str | Path) -> np.ndarray:
    """An image file as an (H, W, 3) int16 array, so differences do not wrap around."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def example_path(name: str) -> Path:
    """A bundled example poster by file name."""
    return EXAMPLES / name


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    """Poll url until it answers 200; fail early if proc exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before serving")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


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
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
