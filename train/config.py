"""Training settings: one dataclass, presets, and how flags override them.

Resolution order: a flag beats the preset, which beats the dataclass default.
The resolved settings are written to OUT/settings.json and a resumed run
keeps them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from vaegan.config import SEED_MODEL, ModelConfig

# Loss terms a player can be trained on; weights of 0 leave a term out.
TERMS = ("kl", "rec", "feat", "adv")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Units are in the names; weights multiply loss terms.

    enc_weights / dec_weights: per loss term (kl, rec, feat, adv), the weight
        in the encoder's and the decoder's objective. Equal dicts let one
        backward pass serve both.
    d_prior_samples: D also sees decoded prior samples as fakes (the article
        and the paper); the decoder's adv term then covers them too.
    augment: DiffAugment policies applied to every image D sees, the same
        draw for an input and its reconstruction ("" for none).
    lr_decay: "none" or "cosine": both learning rates follow a half cosine
        from their value down to lr_final_ratio times it over the run's
        images (a resumed run that goes on longer stretches the curve).
    grad_clip: largest global gradient norm of each player's parameters
        (0 for no clipping); a guard against the rare spike that sends a GAN
        step, and the encoder's log-variance with it, off the rails.
    ema_decay: exponential moving average of encoder and decoder weights
        (0 for none); the export holds the average.
    amp: "auto" (bf16 autocast on CPU and on CUDA where supported, else fp16
        with a grad scaler) or "off" (fp32).
    """

    preset: str = "default"
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 16
    lr: float = 2e-4
    d_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: str = "none"
    lr_final_ratio: float = 0.1
    grad_clip: float = 0.0
    epochs: int = 1000
    images: int = 0  # real training images to show; 0 means use `epochs`
    seed: int = 0
    snapshot_every_epochs: int = 100
    checkpoint_every_epochs: int = 100
    holdout_every: int = 0  # leave out every K-th image; 0 keeps all
    device: str = "auto"
    amp: str = "off"
    enc_weights: dict = field(default_factory=lambda: {"kl": 2e-5, "rec": 1.0})
    dec_weights: dict = field(default_factory=lambda: {"rec": 1.0, "feat": 1.0})
    kl_reduction: str = "sum"
    rec_distance: str = "l1"
    rec_reduction: str = "mean"
    feat_distance: str = "l1"
    feat_reduction: str = "mean"
    d_loss: str = "bce"
    d_prior_samples: bool = True
    augment: str = ""
    ema_decay: float = 0.0
    channels_last: bool = False  # NHWC tensors: faster convolutions in oneDNN and cuDNN
    num_threads: int = 0  # torch CPU threads; 0 leaves torch's default

    @property
    def uses_discriminator(self) -> bool:
        weights = {**self.enc_weights, **self.dec_weights}
        return bool(weights.get("feat") or weights.get("adv"))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["model"] = ModelConfig.from_dict(data["model"])
        data["betas"] = tuple(data["betas"])
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write aside and rename in: a run killed mid-write keeps its old settings.json,
        without which --resume could not go on."""
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(path.read_text()))


_ARTICLE = {"kl": 2e-5, "rec": 1.0}

# How `default` (and the plain VAE measured beside it) trains: bf16, NHWC, a
# decaying learning rate with clipped gradients, and EMA weights for export.
_FAST = dict(
    lr=5e-4,
    lr_decay="cosine",
    grad_clip=1.0,
    ema_decay=0.999,
    amp="auto",
    channels_last=True,
)

PRESETS: dict[str, dict] = {
    # The article: encoder KL + gamma*L1, decoder gamma*L1 + Dis_l, no GAN term for the decoder.
    "seed": dict(
        model=SEED_MODEL,
        enc_weights=dict(_ARTICLE),
        dec_weights={"rec": 1.0, "feat": 1.0},
        feat_distance="l1",
        d_loss="bce",
        amp="off",
    ),
    # Larsen et al. 2016: Dis_l replaces the pixel loss; the decoder adds the GAN term.
    "paper": dict(
        model=SEED_MODEL,
        enc_weights={"kl": 2e-5, "feat": 1.0},
        dec_weights={"feat": 1.0, "adv": 0.01},
        feat_distance="l2",
        d_loss="bce",
        amp="off",
    ),
    # A plain VAE with the default networks: no discriminator at all.
    "vae": dict(enc_weights=dict(_ARTICLE), dec_weights=dict(_ARTICLE), **_FAST),
    # Ours: lighter 4x4 networks in bf16, SN + hinge D with DiffAugment, one
    # shared objective, EMA weights.
    "default": dict(
        enc_weights={"kl": 2e-5, "rec": 1.0, "feat": 0.1, "adv": 0.005},
        dec_weights={"kl": 2e-5, "rec": 1.0, "feat": 0.1, "adv": 0.005},
        feat_distance="l1",
        d_loss="hinge",
        augment="color,translation,cutout",
        d_prior_samples=False,
        **_FAST,
    ),
}


def resolve(preset: str, overrides: dict, model_overrides: dict) -> TrainConfig:
    """Defaults <- preset <- flags (only the flags a user gave, i.e. not None)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    settings = {"preset": preset, **PRESETS[preset]}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    model = settings.get("model", ModelConfig())
    model_changes = {k: v for k, v in model_overrides.items() if v is not None}
    settings["model"] = replace(model, **model_changes) if model_changes else model
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in settings.items() if k in known})
    if cfg.lr_decay not in ("none", "cosine"):
        raise ValueError(f"lr_decay must be 'none' or 'cosine', got {cfg.lr_decay!r}")
    return cfg
