"""Image folders as in-memory tensors, with the held-out split fixed by position.

A few hundred posters at 128 px fit in memory many times over (300 x 49 KB),
so every image is decoded once and batches are slices of one uint8 tensor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from vaegan.images import ImageError, to_tensor

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MIN_TRAIN_IMAGES = 2


class DataError(ValueError):
    """A data folder that cannot be trained on; the message says what to do."""


@dataclass
class Split:
    """Images (N, 3, S, S) as uint8 and their paths relative to the data folder."""

    images: torch.Tensor
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """Float batch in [-1, 1] for the given indices."""
        return self.images[index].float() / 127.5 - 1.0


def list_images(root: Path) -> list[Path]:
    """Every file with an image suffix below root, sorted by relative path."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"Data folder not found: {root}")
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def split_indices(count: int, holdout_every: int) -> tuple[list[int], list[int]]:
    """(train, heldout) positions: every K-th image (the K-th, 2K-th, ...) is held out."""
    if holdout_every <= 0:
        return list(range(count)), []
    heldout = [i for i in range(count) if (i + 1) % holdout_every == 0]
    train = [i for i in range(count) if (i + 1) % holdout_every != 0]
    return train, heldout


def load_folder(root: Path, image_size: int, holdout_every: int = 0) -> tuple[Split, Split]:
    """Decode a folder tree into (train, heldout) splits at the model's resolution.

    Unreadable files are skipped with one warning naming them; the split is
    made over the readable images, sorted by relative path.
    """
    root = Path(root)
    tensors, names, skipped = [], [], []
    for path in list_images(root):
        name = path.relative_to(root).as_posix()
        try:
            x = to_tensor(path, image_size)
        except ImageError as err:
            skipped.append(f"{name} ({err})")
            continue
        tensors.append(((x + 1) * 127.5).round().to(torch.uint8))
        names.append(name)

    if skipped:
        logger.warning("Skipped %d unreadable file(s): %s", len(skipped), "; ".join(skipped))
    train_idx, held_idx = split_indices(len(names), holdout_every)
    if len(train_idx) < MIN_TRAIN_IMAGES:
        raise DataError(
            f"{root} has {len(names)} usable image(s) ({len(train_idx)} for training); "
            f"at least {MIN_TRAIN_IMAGES} are needed. Add images or lower --holdout-every."
        )

    def take(idx: list[int]) -> Split:
        images = (
            torch.stack([tensors[i] for i in idx])
            if idx
            else torch.empty(0, 3, image_size, image_size)
        )
        return Split(images.to(torch.uint8), [names[i] for i in idx])

    logger.info(
        "Data: %d training and %d held-out images from %s", len(train_idx), len(held_idx), root
    )
    return take(train_idx), take(held_idx)
