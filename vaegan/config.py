"""Architecture settings saved beside the weights as config.json."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

# Bumped when the meaning of a saved config or of the weights' names changes.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the networks; no training settings.

    image_size: side of the square RGB image in pixels (a power of two, >= 32).
    latent_dim: length of z.
    base_channels: width of the first (highest-resolution) block; it doubles
        at each stride-2 step up to max_channels.
    bottom_size: spatial side of the smallest feature map (2 or 4).
    kernel_size: 3 (the article's convolutions) or 4 (DCGAN-style).
    norm: "batch" or "none" for the encoder and decoder.
    fc_dim: width of a hidden fully connected layer between the feature map
        and the latent (0 for none).
    d_base_channels / d_max_channels: the discriminator's widths.
    d_feature_block: the discriminator block whose output is Dis_l, the
        learned similarity (1-based, counted from the input).
    d_spectral_norm: wrap every discriminator layer in spectral norm.
    """

    image_size: int = 128
    latent_dim: int = 32
    base_channels: int = 16
    max_channels: int = 256
    bottom_size: int = 4
    kernel_size: int = 4
    norm: str = "none"
    fc_dim: int = 0
    leaky_slope: float = 0.2
    d_base_channels: int = 16
    d_max_channels: int = 128
    d_feature_block: int = 3
    d_spectral_norm: bool = True

    def __post_init__(self) -> None:
        if self.image_size < 32 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {self.image_size}")
        if self.bottom_size not in (2, 4) or self.bottom_size >= self.image_size:
            raise ValueError(f"bottom_size must be 2 or 4, got {self.bottom_size}")
        if self.kernel_size not in (3, 4):
            raise ValueError(f"kernel_size must be 3 or 4, got {self.kernel_size}")
        if self.norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {self.norm!r}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        if not 1 <= self.d_feature_block <= self.num_blocks:
            raise ValueError(f"d_feature_block must be within 1..{self.num_blocks}")

    @property
    def num_blocks(self) -> int:
        """Stride-2 steps between image_size and bottom_size."""
        return int(math.log2(self.image_size // self.bottom_size))

    def widths(self, base: int, top: int) -> list[int]:
        """Channels after each stride-2 block, from the image down."""
        return [min(base * 2**i, top) for i in range(self.num_blocks)]

    def to_dict(self) -> dict:
        return {"format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Rebuild from config.json, refusing unknown formats and keys."""
        data = dict(data)
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise ValueError(
                f"config.json has format_version {version!r}; this library reads "
                f"{FORMAT_VERSION}. Upgrade poster-vaegan or re-export the model."
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config.json has unknown keys: {', '.join(unknown)}")
        return cls(**data)


# The article's networks: 3x3 convolutions, BatchNorm, a 2x2 bottom and FC 1024.
SEED_MODEL = ModelConfig(
    base_channels=32,
    max_channels=512,
    bottom_size=2,
    kernel_size=3,
    norm="batch",
    fc_dim=1024,
    d_base_channels=32,
    d_max_channels=256,
    d_spectral_norm=False,
)
