"""The three networks of a VAEGAN: encoder, decoder (the generator) and discriminator.

All images are (N, 3, S, S) tensors in [-1, 1] with S = config.image_size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import ModelConfig

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def _conv(cfg: ModelConfig, c_in: int, c_out: int) -> nn.Conv2d:
    """A stride-2 convolution that halves the side for either kernel size."""
    return nn.Conv2d(c_in, c_out, cfg.kernel_size, stride=2, padding=1)


def _up_conv(cfg: ModelConfig, c_in: int, c_out: int) -> nn.ConvTranspose2d:
    """A stride-2 transposed convolution that doubles the side for either kernel size."""
    extra = 1 if cfg.kernel_size == 3 else 0
    return nn.ConvTranspose2d(
        c_in, c_out, cfg.kernel_size, stride=2, padding=1, output_padding=extra
    )


def _norm(cfg: ModelConfig, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if cfg.norm == "batch" else nn.Identity()


class Encoder(nn.Module):
    """x (N, 3, S, S) -> (mu, logvar), each (N, latent_dim)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        widths = cfg.widths(cfg.base_channels, cfg.max_channels)
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in widths:
            layers += [_conv(cfg, c_in, c_out), _norm(cfg, c_out), nn.LeakyReLU(cfg.leaky_slope)]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.Flatten())

        flat = widths[-1] * cfg.bottom_size**2
        if cfg.fc_dim:
            self.head = nn.Sequential(
                nn.Linear(flat, cfg.fc_dim),
                nn.LeakyReLU(cfg.leaky_slope),
                nn.Linear(cfg.fc_dim, 2 * cfg.latent_dim),
            )
        else:
            self.head = nn.Linear(flat, 2 * cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.features(x)).chunk(2, dim=1)
        # A runaway log-variance overflows exp() in the KL term and the sampling noise;
        # the clamp keeps both finite (e^20 is already far beyond any useful variance).
        return mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)


class Decoder(nn.Module):
    """z (N, latent_dim) -> x (N, 3, S, S) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        widths = cfg.widths(cfg.base_channels, cfg.max_channels)[::-1]
        self.bottom = (widths[0], cfg.bottom_size, cfg.bottom_size)
        flat = widths[0] * cfg.bottom_size**2
        if cfg.fc_dim:
            self.head = nn.Sequential(
                nn.Linear(cfg.latent_dim, cfg.fc_dim),
                nn.LeakyReLU(cfg.leaky_slope),
                nn.Linear(cfg.fc_dim, flat),
            )
        else:
            self.head = nn.Linear(cfg.latent_dim, flat)

        # Each block doubles the side, narrowing back to the encoder's first width.
        outs = [*widths[1:], widths[-1]]
        layers: list[nn.Module] = [nn.LeakyReLU(cfg.leaky_slope)]
        for c_in, c_out in zip(widths, outs, strict=True):
            layers += [_up_conv(cfg, c_in, c_out), _norm(cfg, c_out), nn.LeakyReLU(cfg.leaky_slope)]
        layers += [nn.Conv2d(outs[-1], 3, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.head(z).view(z.shape[0], *self.bottom)  # (N, C, b, b)
        return self.body(h)


class Discriminator(nn.Module):
    """x (N, 3, S, S) -> (logit (N,), Dis_l features (N, C, h, w)).

    No normalisation layers: batch statistics would mix real and fake images,
    and the article found D more stable without them.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        wrap = spectral_norm if cfg.d_spectral_norm else (lambda m: m)
        widths = cfg.widths(cfg.d_base_channels, cfg.d_max_channels)
        blocks = []
        c_in = 3
        for c_out in widths:
            blocks.append(
                nn.Sequential(wrap(_conv(cfg, c_in, c_out)), nn.LeakyReLU(cfg.leaky_slope))
            )
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.feature_block = cfg.d_feature_block
        self.head = nn.Sequential(nn.Flatten(), wrap(nn.Linear(widths[-1] * cfg.bottom_size**2, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = x
        features = x
        for i, block in enumerate(self.blocks, start=1):
            h = block(h)
            if i == self.feature_block:
                features = h
        return self.head(h).squeeze(1), features
