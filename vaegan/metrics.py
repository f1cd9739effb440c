"""Reconstruction quality per image: PSNR, SSIM and sharpness ratio.

Every function takes (N, 3, H, W) tensors in [0, 1] (input first, then its
reconstruction) and returns an (N,) tensor, one value per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PSNR_CAP_DB = 100.0  # identical images would give infinity

# SSIM as torchmetrics computes it by default.
SSIM_KERNEL, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def psnr(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB with data range 1, capped at PSNR_CAP_DB."""
    mse = (x.double() - x_rec.double()).square().flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-30))).clamp(max=PSNR_CAP_DB).float()


def _gaussian_window(channels: int) -> torch.Tensor:
    offsets = torch.arange(SSIM_KERNEL, dtype=torch.float64) - (SSIM_KERNEL - 1) / 2
    g = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    g = g / g.sum()
    return torch.outer(g, g).expand(channels, 1, SSIM_KERNEL, SSIM_KERNEL).contiguous()


def ssim(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """Mean SSIM over channels and the pixels whose window fits inside the image."""
    x, y = x.double(), x_rec.double()
    channels = x.shape[1]
    window = _gaussian_window(channels)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)  # valid: (N, C, H-10, W-10)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.square()
    var_y = blur(y * y) - mu_y.square()
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2)
    )
    return index.flatten(1).mean(1).float()


def laplacian_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean squared Laplacian response over all channels and valid pixels: (N,)."""
    channels = x.shape[1]
    kernel = LAPLACIAN.double().expand(channels, 1, 3, 3).contiguous()
    response = F.conv2d(x.double(), kernel, groups=channels)
    return response.square().flatten(1).mean(1)


def sharpness_ratio(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """Laplacian energy of the reconstruction over that of the input.

    1.0 is as sharp as the input; blur is far below 1, noise or checkerboard
    artefacts far above. NaN for a perfectly flat input.
    """
    reference = laplacian_energy(x)
    ratio = laplacian_energy(x_rec) / reference
    return torch.where(reference > 0, ratio, torch.nan).float()


def image_metrics(x: torch.Tensor, x_rec: torch.Tensor) -> dict[str, list[float]]:
    """All metrics for (N, 3, H, W) tensors in [-1, 1]: name -> N floats."""
    x01 = (x.float().clamp(-1, 1) + 1) / 2
    rec01 = (x_rec.float().clamp(-1, 1) + 1) / 2
    return {
        "psnr": psnr(x01, rec01).tolist(),
        "ssim": ssim(x01, rec01).tolist(),
        "sharpness": sharpness_ratio(x01, rec01).tolist(),
    }
