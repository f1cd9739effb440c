"""The linear baseline a VAEGAN must beat on posters it never saw: PCA.

    python scripts/pca_baseline.py --data DATA_DIR [--holdout-every 10] [--components 32]

Fits a PCA with as many components as the model's latent on the training split
(images chosen exactly as `python -m train` chooses them, at the model's
resolution) and reports PSNR, SSIM and sharpness on both splits with the
metrics `train.evaluate` uses. Prints a JSON object.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from train.data import Split, load_folder
from vaegan.metrics import image_metrics


def fit_pca(x: torch.Tensor, components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, D) -> (mean (D,), basis (components, D)) with orthonormal rows."""
    mean = x.mean(0)
    _, _, v_t = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, v_t[:components]


def project(x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Reconstruct x (N, D) from its coordinates in the basis."""
    return (x - mean) @ basis.T @ basis + mean


def split_means(split: Split, mean: torch.Tensor, basis: torch.Tensor) -> dict[str, float]:
    x = split.batch(torch.arange(len(split))).double()
    x_rec = project(x.flatten(1), mean, basis).view_as(x).clamp(-1, 1)
    values = image_metrics(x, x_rec)
    return {k: sum(v for v in vs if not math.isnan(v)) / len(vs) for k, vs in values.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--holdout-every", type=int, default=10)
    p.add_argument("--components", type=int, default=32)
    p.add_argument("--image-size", type=int, default=128)
    args = p.parse_args()

    train, heldout = load_folder(args.data, args.image_size, args.holdout_every)
    x = train.batch(torch.arange(len(train))).double().flatten(1)  # (N, 3 * S * S)
    mean, basis = fit_pca(x, args.components)
    result = {
        "components": args.components,
        "image_size": args.image_size,
        "train": split_means(train, mean, basis),
        "heldout": split_means(heldout, mean, basis),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
