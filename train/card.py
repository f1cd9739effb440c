"""Model cards (README.md with Hub metadata) built from an export's metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

METADATA = """---
license: mit
library_name: poster-vaegan
pipeline_tag: image-to-image
tags:
- vaegan
- vae
- gan
- posters
- pytorch_model_hub_mixin
---
"""

DEFAULT_DATA_NOTE = (
    "Trained on a folder of user-supplied images; check the rights of the training "
    "images before redistributing reconstructions."
)


def _fmt(value: float | None, spec: str) -> str:
    """A metric for a table; None (sharpness of a flat image) is n/a."""
    return "n/a" if value is None else format(value, spec)


def _fmt(value: float | None, spec: str) -> str:
    """A metric for a table; None (the sharpness of a flat image) is n/a."""
    return "n/a" if value is None else format(value, spec)


def _metric_cells(m: dict) -> str:
    return f"{_fmt(m['psnr'], '.2f')} | {_fmt(m['ssim'], '.3f')} | {_fmt(m['sharpness'], '.2f')}"


def _metric_rows(metrics: dict) -> list[str]:
    rows = ["| split | images | PSNR (dB) | SSIM | sharpness ratio |", "|---|---|---|---|---|"]
    for split in ("train", "heldout"):
        entry = metrics.get(split) or {}
        if entry:
            m = entry["mean"]
            rows.append(f"| {split} | {len(entry['per_image'])} | {_metric_cells(m)} |")
    return rows


def _per_image_rows(entry: dict, notes: dict[str, str]) -> list[str]:
    rows = ["| image | PSNR (dB) | SSIM | sharpness | note |", "|---|---|---|---|---|"]
    for name, m in entry.get("per_image", {}).items():
        rows.append(f"| {name} | {_metric_cells(m)} | {notes.get(name, '')} |")
    return rows


def _settings_rows(settings: dict) -> list[str]:
    model = settings["model"]
    keep = (
        "preset",
        "batch_size",
        "lr",
        "d_lr",
        "betas",
        "enc_weights",
        "dec_weights",
        "d_loss",
        "augment",
        "ema_decay",
        "amp",
        "holdout_every",
        "seed",
    )
    rows = ["| setting | value |", "|---|---|"]
    rows += [f"| {k} | `{settings[k]}` |" for k in keep if k in settings]
    rows += [f"| model.{k} | `{v}` |" for k, v in model.items() if k != "format_version"]
    return rows


def render_card(
    export: Path,
    *,
    title: str,
    repo_id: str | None = None,
    data_note: str = DEFAULT_DATA_NOTE,
    command: str | None = None,
    heldout_notes: dict[str, str] | None = None,
) -> str:
    """The card's markdown for an export folder holding metrics.json and its grids."""
    metrics = json.loads((Path(export) / "metrics.json").read_text())
    load_from = repo_id or "path/to/this/folder"
    present = {p.name for p in Path(export).iterdir()}
    lines = [
        METADATA,
        f"# {title}",
        "",
        "A VAEGAN (Larsen et al. 2016) encoder and decoder: it encodes a poster to a "
        f"{metrics['settings']['model']['latent_dim']}-number latent code and decodes it "
        f"back at {metrics['settings']['model']['image_size']} px, and morphs between "
        "posters by decoding points between their codes.",
        "",
        "## Load it",
        "",
        "```python",
        "from vaegan import VAEGAN, to_tensor, to_pil",
        f'model = VAEGAN.from_pretrained("{load_from}")',
        "to_pil(model.reconstruct(to_tensor('poster.jpg', model.config.image_size)[None])[0])",
        "```",
        "",
        "## Data",
        "",
        data_note,
        "",
        "## Training",
        "",
        f"- preset `{metrics['preset']}`, {metrics['images_shown']:,} training images shown "
        f"({metrics['epochs']} epochs, {metrics['steps']:,} steps)",
        f"- {metrics['wall_time_s'] / 60:.1f} min of training steps (snapshots not counted) on "
        f"{metrics['hardware']} "
        f"({metrics['device']}, {metrics['amp']}), {metrics['images_per_s']:.1f} images/s",
    ]
    if command:
        lines += [f"- reproduce: `{command}`"]
    lines += ["", "## Metrics", "", *_metric_rows(metrics), ""]
    lines += [
        "PSNR and SSIM compare the reconstruction with the input at the model's resolution; "
        "the sharpness ratio is the Laplacian energy of the reconstruction over the input's "
        "(1.0 is as sharp as the input). Held-out images were never trained on.",
        "",
    ]
    for name, caption in (
        ("reconstructed.png", "Training posters (top) and reconstructions (bottom)"),
        ("heldout.png", "Held-out posters (top) and reconstructions (bottom)"),
        ("generated.png", "Random samples from the prior"),
        ("morph.png", "A morph between two posters"),
        ("losses.png", "Losses against images shown"),
        ("metrics.png", "PSNR, SSIM and sharpness of both splits against images shown"),
    ):
        if name in present:
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    if metrics.get("heldout"):
        lines += [
            "## Per image: held-out",
            "",
            *_per_image_rows(metrics["heldout"], heldout_notes or {}),
            "",
        ]
    lines += ["## Per image: training", "", *_per_image_rows(metrics["train"], {}), ""]
    lines += ["## Settings", "", *_settings_rows(metrics["settings"]), ""]
    lines += [
        "## Limitations",
        "",
        "Posters the model never saw come back as loose impressions (layout and colours), "
        "not copies: a few hundred training images cannot teach a general poster codec.",
        "",
    ]
    return "\n".join(lines)
