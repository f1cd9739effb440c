"""Shared fixtures: tiny models and folders of generated images (no network, no ../shared)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from playwright.sync_api import Browser, sync_playwright

from vaegan import VAEGAN, ModelConfig

from .app_fixtures import CHROMIUM, CHROMIUM_ARGS, poster

TINY = ModelConfig(
    image_size=32,
    latent_dim=8,
    base_channels=8,
    max_channels=16,
    d_base_channels=8,
    d_max_channels=16,
    d_feature_block=2,
)


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # Tests run beside other work on 2 cores; one thread keeps them predictable.
    torch.set_num_threads(1)


def make_folder(root: Path, count: int, nested: bool = True) -> Path:
    """Write `count` posters as PNG/JPEG, some in a subfolder."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        folder = root / "sub" if nested and i % 3 == 0 else root
        folder.mkdir(exist_ok=True)
        suffix = ".png" if i % 2 else ".jpg"
        poster(i).save(folder / f"poster{i:02d}{suffix}")
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "images", 10)


@pytest.fixture
def tiny_model() -> VAEGAN:
    torch.manual_seed(0)
    return VAEGAN(TINY).eval()


@pytest.fixture
def saved_model(tmp_path: Path, tiny_model: VAEGAN) -> Path:
    folder = tmp_path / "model"
    tiny_model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by a module's page tests."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
