"""Resumable training state, swapped in atomically.

OUT/checkpoint is a symlink to OUT/checkpoint-<step>/; a new state is written
to a fresh folder, flushed, and the link is replaced in one rename, so a run
killed at any moment leaves the last good checkpoint loadable.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

LINK_NAME = "checkpoint"
STATE_NAME = "state.pt"


def save_checkpoint(out: Path, state: dict, step: int) -> Path:
    """Write `state` (tensors, numbers, strings, dicts) and point OUT/checkpoint at it."""
    out = Path(out)
    folder = out / f"{LINK_NAME}-{step:08d}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / STATE_NAME
    with open(path, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())

    tmp_link = out / f".{LINK_NAME}.tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(folder.name)
    os.replace(tmp_link, out / LINK_NAME)
    _fsync_dir(out)

    for old in out.glob(f"{LINK_NAME}-*"):
        if old.name != folder.name and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    logger.info("Checkpoint saved at step %d: %s", step, folder)
    return folder


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def has_checkpoint(out: Path) -> bool:
    return (Path(out) / LINK_NAME / STATE_NAME).is_file()


def load_checkpoint(out: Path) -> dict:
    """Load OUT/checkpoint without unpickling arbitrary objects."""
    path = Path(out) / LINK_NAME / STATE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint to resume from in {out}")
    return torch.load(path, map_location="cpu", weights_only=True)
