"""Operations on latent codes z of shape (..., latent_dim)."""

from __future__ import annotations

import torch


def lerp(z_a: torch.Tensor, z_b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line from z_a (t=0) to z_b (t=1); t is (T,), result (T, D)."""
    t = t.to(z_a.dtype).unsqueeze(1)
    return (1 - t) * z_a + t * z_b


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle path from z_a to z_b with the norm interpolated linearly.

    Defined for latents of any length, including 1 and including parallel or
    zero vectors, where it falls back to lerp.
    """
    t = t.to(z_a.dtype).unsqueeze(1)
    norm_a, norm_b = z_a.norm(), z_b.norm()
    if norm_a < 1e-8 or norm_b < 1e-8:
        return lerp(z_a, z_b, t.squeeze(1))

    u_a, u_b = z_a / norm_a, z_b / norm_b
    omega = torch.arccos((u_a * u_b).sum().clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    # Nearly parallel (or opposite) directions make the weights 0/0.
    if sin_omega < 1e-6:
        return lerp(z_a, z_b, t.squeeze(1))

    direction = (torch.sin((1 - t) * omega) * u_a + torch.sin(t * omega) * u_b) / sin_omega
    return direction * ((1 - t) * norm_a + t * norm_b)


def interpolate(
    z_a: torch.Tensor, z_b: torch.Tensor, steps: int, mode: str = "slerp"
) -> torch.Tensor:
    """`steps` latents from z_a to z_b, both ends included: (steps, D)."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 to include both ends, got {steps}")
    if mode not in ("lerp", "slerp"):
        raise ValueError(f"mode must be 'lerp' or 'slerp', got {mode!r}")
    z_a, z_b = z_a.reshape(-1), z_b.reshape(-1)
    if z_a.shape != z_b.shape:
        raise ValueError(f"latents differ in length: {z_a.numel()} and {z_b.numel()}")
    t = torch.linspace(0, 1, steps)
    path = slerp(z_a, z_b, t) if mode == "slerp" else lerp(z_a, z_b, t)
    # Exact ends, whatever rounding did on the way.
    path[0], path[-1] = z_a, z_b
    return path
