"""Latent paths and loss terms."""

from __future__ import annotations

import math

import pytest
import torch

from vaegan.latent import interpolate, lerp, slerp
from vaegan.losses import d_adv_loss, feat_loss, g_adv_loss, kl_loss, rec_loss


@pytest.mark.parametrize("dim", [1, 2, 32, 512])
@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_paths_have_exact_ends_for_any_length(dim: int, mode: str):
    z_a, z_b = torch.randn(dim), torch.randn(dim)
    path = interpolate(z_a, z_b, steps=7, mode=mode)
    assert path.shape == (7, dim)
    assert torch.equal(path[0], z_a)
    assert torch.equal(path[-1], z_b)
    assert torch.isfinite(path).all()


def test_slerp_keeps_the_norm_between_equal_norm_ends():
    z_a = torch.tensor([3.0, 0.0])
    z_b = torch.tensor([0.0, 3.0])
    path = slerp(z_a, z_b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path.norm(dim=1), torch.full((5,), 3.0))
    # lerp cuts the corner: its midpoint is shorter.
    assert lerp(z_a, z_b, torch.tensor([0.5])).norm() < 3.0


@pytest.mark.parametrize(
    ("z_a", "z_b"),
    [([1.0, 2.0], [2.0, 4.0]), ([0.0, 0.0], [1.0, 1.0]), ([1.0, 0.0], [-1.0, 0.0])],
    ids=["parallel", "zero", "opposite"],
)
def test_slerp_degenerate_cases_are_finite(z_a, z_b):
    path = interpolate(torch.tensor(z_a), torch.tensor(z_b), steps=4, mode="slerp")
    assert torch.isfinite(path).all()


def test_interpolate_rejects_bad_arguments():
    z = torch.zeros(4)
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(z, z, steps=1)
    with pytest.raises(ValueError, match="mode"):
        interpolate(z, z, steps=3, mode="cubic")
    with pytest.raises(ValueError, match="differ in length"):
        interpolate(z, torch.zeros(5), steps=3)


def test_kl_of_the_prior_is_zero_and_positive_elsewhere():
    zeros = torch.zeros(4, 8)
    assert kl_loss(zeros, zeros).item() == 0.0
    assert kl_loss(torch.ones(4, 8), zeros, "sum").item() == pytest.approx(4.0)
    assert kl_loss(torch.ones(4, 8), zeros, "mean").item() == pytest.approx(0.5)
    assert kl_loss(zeros, torch.full((4, 8), -1.0)).item() > 0


def test_rec_and_feat_losses():
    x = torch.zeros(2, 3, 4, 4)
    y = torch.full((2, 3, 4, 4), 0.5)
    assert rec_loss(x, x).item() == 0.0
    assert rec_loss(x, y, "l1").item() == pytest.approx(0.5)
    assert rec_loss(x, y, "l2").item() == pytest.approx(0.25)
    assert rec_loss(x, y, "l1", "sum").item() == pytest.approx(24.0)
    f = torch.randn(2, 5, requires_grad=True)
    feat_loss(f, f * 2).backward()
    # The real features are a fixed target: only the reconstruction side gets a gradient.
    assert f.grad is not None
    with pytest.raises(ValueError, match="distance"):
        rec_loss(x, y, "l3")


def test_adversarial_losses():
    big = torch.full((8,), 20.0)
    assert d_adv_loss(big, -big, "bce").item() < 1e-6
    assert d_adv_loss(big, -big, "hinge").item() == 0.0
    assert d_adv_loss(torch.zeros(8), torch.zeros(8), "bce").item() == pytest.approx(
        2 * math.log(2)
    )
    assert d_adv_loss(torch.zeros(8), torch.zeros(8), "hinge").item() == pytest.approx(2.0)
    assert g_adv_loss(big, "bce").item() < 1e-6
    assert g_adv_loss(big, "hinge").item() == pytest.approx(-20.0)
    with pytest.raises(ValueError, match="kind"):
        g_adv_loss(big, "wgan")
