"""vaegan.metrics pinned on a fixed pair of generated 64x64 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from vaegan.metrics import PSNR_CAP_DB, image_metrics, psnr, sharpness_ratio, ssim

SIZE = 64


def reference() -> np.ndarray:
    """(64, 64, 3) uint8: colour gradients plus seeded noise, so all metrics are busy."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    base = np.stack([xx * 2.4, yy * 2.4, (xx + yy) * 1.2], axis=-1)
    rng = np.random.default_rng(1234)
    return np.clip(base + rng.integers(0, 100, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


def box_blur(image: np.ndarray) -> np.ndarray:
    """3x3 mean with edge padding; numpy only, so the result never depends on Pillow."""
    padded = np.pad(image.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    total = sum(padded[i : i + SIZE, j : j + SIZE] for i in range(3) for j in range(3))
    return total / 9.0


def add_noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise, rounded and clipped back to uint8."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """The input and a blurred, noised 'reconstruction' of it."""
    x = reference()
    return as_tensor(x), as_tensor(add_noise(box_blur(x), 8.0, seed=5))


def test_pinned_values(pair):
    x, y = pair
    # Hard-coded so that any change to the formulas or constants shows up here.
    assert psnr(x, y).item() == pytest.approx(19.1398, abs=1e-4)
    assert ssim(x, y).item() == pytest.approx(0.2077, abs=1e-4)
    assert sharpness_ratio(x, y).item() == pytest.approx(0.0969, abs=1e-4)


def test_psnr_matches_torchmetrics(pair):
    x, y = pair
    expected = peak_signal_noise_ratio(y, x, data_range=1.0)
    assert psnr(x, y).item() == pytest.approx(expected.item(), abs=1e-4)


def test_ssim_matches_torchmetrics_over_the_valid_windows(pair):
    x, y = pair
    # Ours averages the SSIM map over the windows that fit inside the image.
    # torchmetrics pads by reflection; versions up to at least 1.4 cropped the
    # padded border before averaging, 1.9 averages it in. Its full map cropped
    # by the kernel radius (5) is the quantity we compute, in every version.
    _, full = structural_similarity_index_measure(y, x, data_range=1.0, return_full_image=True)
    expected = full[..., 5:-5, 5:-5].mean()
    assert ssim(x, y).item() == pytest.approx(expected.item(), abs=1e-5)


def test_identical_images_are_perfect(pair):
    x, _ = pair
    assert psnr(x, x).item() == PSNR_CAP_DB
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert sharpness_ratio(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_blur_lowers_and_noise_raises_sharpness():
    x = reference()
    blurred = as_tensor(np.round(box_blur(x)).astype(np.uint8))
    noisy = as_tensor(add_noise(x, 20.0, seed=6))
    assert sharpness_ratio(as_tensor(x), blurred).item() < 0.5
    assert sharpness_ratio(as_tensor(x), noisy).item() > 1.1


def test_flat_input_gives_nan_sharpness():
    flat = torch.full((1, 3, SIZE, SIZE), 0.5)
    assert torch.isnan(sharpness_ratio(flat, flat)).all()


def test_image_metrics_takes_minus_one_to_one(pair):
    x, y = pair
    values = image_metrics(x * 2 - 1, y * 2 - 1)
    assert values["psnr"][0] == pytest.approx(psnr(x, y).item(), abs=1e-4)
    assert values["ssim"][0] == pytest.approx(ssim(x, y).item(), abs=1e-6)
    assert values["sharpness"][0] == pytest.approx(sharpness_ratio(x, y).item(), abs=1e-6)
