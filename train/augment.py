"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for what D sees.

Every op draws its parameters per sample from a generator and applies them to
(N, 3, H, W) images in [-1, 1]; gradients flow through to the decoder.
`augment` takes several batches and gives sample i of each the same draw, so
an input and its reconstruction are compared under the same transform.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _color(x: torch.Tensor, rand: torch.Tensor) -> torch.Tensor:
    """rand: (N, 3) uniform in [0, 1) for brightness, saturation and contrast."""
    brightness, saturation, contrast = (rand[:, i].view(-1, 1, 1, 1) for i in range(3))
    x = x + (brightness - 0.5)
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * (saturation * 2) + gray
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (contrast + 0.5) + mean


def _translation(x: torch.Tensor, shift: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio*side pixels, filling with zeros; shift: (N, 2) in [0, 1)."""
    n, _, h, w = x.shape
    pad = max(1, int(h * ratio + 0.5))
    offsets = (shift * (2 * pad + 1)).long() - pad  # (N, 2) in [-pad, pad]
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(h, device=x.device)[None] + pad - offsets[:, :1]  # (N, H)
    cols = torch.arange(w, device=x.device)[None] + pad - offsets[:, 1:]  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, centre: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio*side at a random centre; centre: (N, 2) in [0, 1)."""
    _, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = (centre[:, 0] * (h + 1 - size_h % 2)).long() - size_h // 2
    left = (centre[:, 1] * (w + 1 - size_w % 2)).long() - size_w // 2
    rows = torch.arange(h, device=x.device)[None]
    cols = torch.arange(w, device=x.device)[None]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size_h)  # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size_w)  # (N, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


def parse_policy(policy: str) -> list[str]:
    names = [p for p in policy.replace(" ", "").split(",") if p]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}; choose from {', '.join(POLICIES)}")
    return names


def augment(
    batches: list[torch.Tensor], policy: str, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """Apply one random draw per sample index to every batch in `batches`."""
    names = parse_policy(policy)
    if not names:
        return batches
    n, device = batches[0].shape[0], batches[0].device

    def draw(k: int) -> torch.Tensor:
        return torch.rand(n, k, generator=generator).to(device)

    ops = {"color": (_color, 3), "translation": (_translation, 2), "cutout": (_cutout, 2)}
    for name in names:
        op, k = ops[name]
        params = draw(k)
        batches = [op(x, params) for x in batches]
    return batches
