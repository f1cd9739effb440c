"""Export a finished run to OUT/model: the inference model plus what it measured."""

from __future__ import annotations

import json
import logging
import platform
import shutil
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{cpu_name()}, {torch.get_num_threads()} threads"


def cpu_name() -> str:
    """The CPU's model name where Linux tells it, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def export_model(trainer, out: Path | None = None) -> Path:
    """Write config.json, model.safetensors (EMA weights when kept), metrics.json, grids.

    To OUT/model unless `out` names another folder (a snapshot push uses a temporary one).
    """
    out = Path(out) if out is not None else trainer.out / "model"
    if out.exists():
        shutil.rmtree(out)
    model = trainer.eval_model()
    model.save_pretrained(out)

    metrics = {
        "preset": trainer.cfg.preset,
        "images_shown": trainer.images_seen,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "wall_time_s": round(trainer.wall_time, 1),
        "images_per_s": round(trainer.images_seen / max(trainer.wall_time, 1e-9), 2),
        "hardware": hardware(),
        "device": str(trainer.device),
        "amp": str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "fp32",
        "train": trainer.split_metrics(trainer.train_set),
        "heldout": trainer.split_metrics(trainer.heldout_set),
        "settings": trainer.cfg.to_dict(),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    tag = f"epoch{trainer.epoch:04d}"
    for name in ("reconstructed", "heldout", "generated"):
        src = trainer.out / f"{name}_{tag}.png"
        if src.exists():
            shutil.copy(src, out / f"{name}.png")
    for name in ("losses.png", "metrics.png", "metrics.csv"):
        if (trainer.out / name).exists():
            shutil.copy(trainer.out / name, out / name)
    logger.info("Exported the model to %s", out)
    return out
