"""Loss terms of a VAEGAN, named by player and kind; pure functions of tensors.

Reductions: "mean" averages over every element; "sum" sums over all but the
batch dimension and averages over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.flatten(1).sum(1).mean()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _distance(a: torch.Tensor, b: torch.Tensor, distance: str) -> torch.Tensor:
    if distance == "l1":
        return (a - b).abs()
    if distance == "l2":
        return (a - b).square()
    raise ValueError(f"distance must be 'l1' or 'l2', got {distance!r}")


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)); 0 exactly when mu = 0 and logvar = 0."""
    mu, logvar = mu.float(), logvar.float()
    return _reduce(0.5 * (mu.square() + logvar.exp() - 1.0 - logvar), reduction)


def rec_loss(
    x: torch.Tensor, x_rec: torch.Tensor, distance: str = "l1", reduction: str = "mean"
) -> torch.Tensor:
    """Pixel distance between images and their reconstructions."""
    return _reduce(_distance(x.float(), x_rec.float(), distance), reduction)


def feat_loss(
    f_real: torch.Tensor, f_rec: torch.Tensor, distance: str = "l2", reduction: str = "mean"
) -> torch.Tensor:
    """Dis_l: distance between discriminator features of images and reconstructions.

    f_real is detached: the similarity metric is a target, not something the
    encoder or decoder may move.
    """
    return _reduce(_distance(f_real.detach().float(), f_rec.float(), distance), reduction)


def d_adv_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "bce"
) -> torch.Tensor:
    """Discriminator loss: real images up, reconstructions and samples down."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    if kind == "bce":
        real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return real + fake
    raise ValueError(f"kind must be 'bce' or 'hinge', got {kind!r}")


def g_adv_loss(fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Generator (decoder) loss: make D call its images real (non-saturating form)."""
    fake_logits = fake_logits.float()
    if kind == "hinge":
        return -fake_logits.mean()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    raise ValueError(f"kind must be 'bce' or 'hinge', got {kind!r}")
